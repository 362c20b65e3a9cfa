// Package config applies Dockerfile-style instructions (CMD, ENV, EXPOSE, ...)
// to an image configuration. It serves `--change` on import and commit and the
// metadata instructions of `ctr build`, so the rules live in one place.
package config

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Config is Docker's image configuration: OCI's plus Healthcheck, OnBuild and Shell.
type Config = dockerspec.DockerOCIImageConfig

// DefaultShell is used for shell-form CMD, ENTRYPOINT and RUN when the image
// has no SHELL.
var DefaultShell = []string{"/bin/sh", "-c"}

// State is a configuration being changed by a sequence of instructions.
// CmdSet records that CMD was given in this sequence: ENTRYPOINT clears an
// inherited CMD but not one set alongside it (Docker's rule).
type State struct {
	Config Config
	CmdSet bool
	// Author receives MAINTAINER.
	Author string
}

// Import lists the instructions `ctr import --change` accepts; Commit those
// of `ctr commit --change`.
var (
	Import = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "WORKDIR", "USER", "LABEL", "VOLUME"}
	Commit = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "WORKDIR", "USER", "LABEL", "VOLUME", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK"}
)

// ParseChanges parses `--change` lines, each one Dockerfile instruction
// among allowed.
func ParseChanges(lines []string, allowed []string) ([]instructions.Command, error) {
	var cmds []instructions.Command
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			return nil, fmt.Errorf("invalid change: empty instruction")
		}
		word := strings.ToUpper(strings.Fields(line)[0])
		if !contains(allowed, word) {
			return nil, fmt.Errorf("invalid change %q: %s is not allowed here (allowed: %s)", line, word, strings.Join(allowed, ", "))
		}
		res, err := parser.Parse(strings.NewReader(line))
		if err != nil {
			return nil, fmt.Errorf("invalid change %q: %w", line, err)
		}
		if len(res.AST.Children) != 1 {
			return nil, fmt.Errorf("invalid change %q: expected exactly one instruction", line)
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return nil, fmt.Errorf("invalid change %q: %s", line, cleanErr(err))
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// Apply applies cmds to st in order, expanding variables in the words of
// ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME and STOPSIGNAL against the
// configuration's environment (plus extra, e.g. build args).
func Apply(st *State, cmds []instructions.Command, extra []string) error {
	lex := shell.NewLex(parser.DefaultEscapeToken)
	for _, c := range cmds {
		if err := ApplyOne(st, c, lex, extra); err != nil {
			return err
		}
	}
	return nil
}

// ApplyOne applies one metadata instruction. lex carries the Dockerfile's
// escape token.
func ApplyOne(st *State, c instructions.Command, lex *shell.Lex, extra []string) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := append(append([]string{}, extra...), st.Config.Env...)
		err := e.Expand(func(word string) (string, error) {
			res, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(env))
			return res, err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
	}
	cfg := &st.Config
	switch c := c.(type) {
	case *instructions.CmdCommand:
		cfg.Cmd = shellForm(cfg, c.CmdLine, c.PrependShell)
		st.CmdSet = true
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = shellForm(cfg, c.CmdLine, c.PrependShell)
		if !st.CmdSet {
			cfg.Cmd = nil
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = SetEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		st.Author = c.Maintainer
	case *instructions.ExposeCommand:
		ports, err := ExposedPorts(c.Ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
	case *instructions.WorkdirCommand:
		cfg.WorkingDir = Workdir(cfg.WorkingDir, c.Path)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			v = strings.TrimSpace(v)
			if v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		if c.Signal == "" {
			return fmt.Errorf("STOPSIGNAL requires a signal name or number")
		}
		cfg.StopSignal = c.Signal
	case *instructions.OnbuildCommand:
		word := strings.ToUpper(strings.Fields(c.Expression + " x")[0])
		switch word {
		case "ONBUILD":
			return fmt.Errorf("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "FROM", "MAINTAINER":
			return fmt.Errorf("%s isn't allowed as an ONBUILD trigger", word)
		}
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.HealthCheckCommand:
		h := *c.Health
		cfg.Healthcheck = &h
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
	default:
		return fmt.Errorf("%s is not a metadata instruction", strings.ToUpper(c.Name()))
	}
	return nil
}

// Shell returns the shell used for shell-form commands.
func Shell(cfg *Config) []string {
	if len(cfg.Shell) > 0 {
		return cfg.Shell
	}
	return DefaultShell
}

func shellForm(cfg *Config, args []string, prependShell bool) []string {
	if !prependShell {
		return append([]string{}, args...)
	}
	return append(append([]string{}, Shell(cfg)...), strings.Join(args, " "))
}

// SetEnv sets key=value in env: an earlier value of key is replaced in
// place (Docker keeps the variable's position), a new key is appended.
func SetEnv(env []string, key, value string) []string {
	out := append(make([]string, 0, len(env)+1), env...)
	for i, kv := range out {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out[i] = key + "=" + value
			return out
		}
	}
	return append(out, key+"="+value)
}

// Workdir resolves a WORKDIR against the current one, as Docker does.
func Workdir(cur, p string) string {
	if !path.IsAbs(p) {
		if cur == "" {
			cur = "/"
		}
		p = path.Join(cur, p)
	}
	return path.Clean(p)
}

// ExposedPorts normalises EXPOSE arguments ("80", "53/udp", "8000-8002")
// into keys like "80/tcp".
func ExposedPorts(specs []string) ([]string, error) {
	var out []string
	for _, s := range specs {
		portPart, proto, _ := strings.Cut(s, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("invalid proto %q in EXPOSE %s: use tcp, udp or sctp", proto, s)
		}
		lo, hi, err := PortRange(portPart)
		if err != nil {
			return nil, fmt.Errorf("invalid port %q in EXPOSE: %w", s, err)
		}
		for p := lo; p <= hi; p++ {
			out = append(out, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	sort.Strings(out)
	return out, nil
}

// PortRange parses "80" or "8000-8002".
func PortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = port(a)
	if err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = port(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("invalid range %q: end before start", s)
		}
	}
	return lo, hi, nil
}

func port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func cleanErr(err error) string {
	return strings.TrimSpace(err.Error())
}
