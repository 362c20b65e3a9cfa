package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/config"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// runStage builds one stage: FROM, then each instruction as a step.
func (bd *build) runStage(st *stage) error {
	bd.step++
	bd.printf("Step %d/%d : %s\n", bd.step, bd.total, st.from.SourceCode)
	if err := bd.from(st); err != nil {
		return bd.located(st.line, err)
	}
	for _, s := range st.cmds {
		if err := bd.ctx.Err(); err != nil {
			return err
		}
		bd.step++
		bd.printf("Step %d/%d : %s\n", bd.step, bd.total, s.text)
		if err := bd.dispatch(st, s.cmd); err != nil {
			return bd.located(s.line, err)
		}
	}
	return nil
}

// from starts a stage on its base image and runs the base's ONBUILD
// triggers.
func (bd *build) from(st *stage) error {
	base, _, err := bd.lex.ProcessWord(st.from.BaseName, shell.EnvsFromSlice(argEnv(bd.meta)))
	if err != nil {
		return err
	}
	if base == "" {
		return fmt.Errorf("base name (%s) should not be blank", st.from.BaseName)
	}
	st.args = nil
	st.cmdSet = false
	var prev *stage
	for _, s := range bd.stages[:st.index] {
		if s.name != "" && strings.EqualFold(s.name, base) {
			prev = s
		}
	}
	switch {
	case strings.EqualFold(base, "scratch"):
		st.img = images.Image{}
		st.cfg = &images.ImageConfig{}
		st.cfg.OS = "linux"
		st.cfg.Architecture = runtime.GOARCH
		st.cfg.RootFS = ocispec.RootFS{Type: "layers"}
	case prev != nil:
		st.img = prev.img
		st.cfg = cloneImageConfig(prev.cfg)
	default:
		img, err := bd.Store.Resolve(base)
		if err != nil {
			if errdefs.IsNotFound(err) {
				shown := base
				if r, perr := reference.Parse(base); perr == nil {
					shown = r.Familiar()
				}
				return fmt.Errorf("unable to find image '%s' locally", shown)
			}
			return err
		}
		cfg, err := bd.Store.Config(img)
		if err != nil {
			return err
		}
		st.img, st.cfg = img, cfg
	}
	if st.img.ID == "" {
		bd.printf(" ---> \n")
	} else {
		bd.printf(" ---> %s\n", short(st.img.ID))
	}
	// Like Docker's classic builder, a stage's config gets the default
	// PATH when its base has none, and loses the base's ONBUILD triggers,
	// which run now. (The first step's image records both.)
	triggers := st.cfg.Config.OnBuild
	hasPath := false
	for _, e := range st.cfg.Config.Env {
		if strings.HasPrefix(e, "PATH=") {
			hasPath = true
		}
	}
	if hasPath && len(triggers) == 0 {
		return nil
	}
	st.cfg = cloneImageConfig(st.cfg)
	st.cfg.Config.OnBuild = nil
	if !hasPath {
		st.cfg.Config.Env = append(st.cfg.Config.Env, "PATH="+DefaultPath)
	}
	if len(triggers) == 0 {
		return nil
	}
	s := "s"
	if len(triggers) == 1 {
		s = ""
	}
	bd.printf("# Executing %d build trigger%s\n", len(triggers), s)
	for _, t := range triggers {
		if err := bd.trigger(st, t); err != nil {
			return err
		}
	}
	return nil
}

// trigger runs one ONBUILD trigger of the base image.
func (bd *build) trigger(st *stage, expr string) error {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return fmt.Errorf("failed to process ONBUILD trigger %q: %s", expr, cleanMsg(err))
	}
	for _, n := range res.AST.Children {
		switch strings.ToUpper(n.Value) {
		case "ONBUILD":
			return errors.New("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "FROM", "MAINTAINER":
			return fmt.Errorf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(n.Value))
		}
		if err := checkJSON(n); err != nil {
			return fmt.Errorf("ONBUILD trigger %q: %v", expr, err)
		}
		v, err := instructions.ParseInstruction(n)
		if err != nil {
			return fmt.Errorf("ONBUILD trigger %q: %s", expr, instructionError(err))
		}
		c, ok := v.(instructions.Command)
		if !ok {
			return fmt.Errorf("ONBUILD trigger %q is not an instruction", expr)
		}
		if err := checkSupported(c); err != nil {
			return err
		}
		if err := bd.dispatch(st, c); err != nil {
			return err
		}
	}
	return nil
}

// dispatch runs one instruction of a stage.
func (bd *build) dispatch(st *stage, cmd instructions.Command) error {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return bd.run(st, c)
	case *instructions.CopyCommand:
		ci := &copyInst{name: "COPY"}
		if err := c.Expand(bd.expander(bd.stageEnv(st))); err != nil {
			return err
		}
		if err := c.ExpandRaw(bd.expander(bd.stageEnv(st))); err != nil {
			return err
		}
		ci.srcs, ci.contents, ci.dest = c.SourcePaths, c.SourceContents, c.DestPath
		ci.chown, ci.chmod = c.Chown, c.Chmod
		from, _, err := bd.lex.ProcessWord(c.From, shell.EnvsFromSlice(bd.stageEnv(st)))
		if err != nil {
			return err
		}
		ci.from = from
		return bd.copy(st, ci)
	case *instructions.AddCommand:
		if err := c.Expand(bd.expander(bd.stageEnv(st))); err != nil {
			return err
		}
		if err := c.ExpandRaw(bd.expander(bd.stageEnv(st))); err != nil {
			return err
		}
		ci := &copyInst{name: "ADD", add: true, srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, chown: c.Chown, chmod: c.Chmod}
		return bd.copy(st, ci)
	case *instructions.ArgCommand:
		if err := c.Expand(bd.expander(bd.stageEnv(st))); err != nil {
			return err
		}
		bd.declare(st, c)
		var b strings.Builder
		b.WriteString("ARG")
		for _, a := range c.Args {
			b.WriteString(" " + a.Key)
			if a.Value != nil {
				b.WriteString("=" + *a.Value)
			}
		}
		cfg := cloneConfig(st.cfg.Config)
		return bd.commit(st, nop(cfg, b.String()), cfg, st.cfg.Author, nil)
	case *instructions.WorkdirCommand:
		return bd.workdir(st, c)
	case *instructions.ExposeCommand:
		ex := bd.expander(bd.stageEnv(st))
		for i, p := range c.Ports {
			v, err := ex(p)
			if err != nil {
				return err
			}
			c.Ports[i] = v
		}
	}
	// A metadata instruction.
	state := &config.State{Config: cloneConfig(st.cfg.Config), CmdSet: st.cmdSet, Author: st.cfg.Author}
	if err := config.ApplyOne(state, cmd, bd.lex, argEnv(st.args)); err != nil {
		return err
	}
	comment, err := metaComment(cmd, &state.Config)
	if err != nil {
		return err
	}
	if err := bd.commit(st, nop(state.Config, comment), state.Config, state.Author, nil); err != nil {
		return err
	}
	st.cmdSet = state.CmdSet
	return nil
}

// DefaultPath is the PATH a stage's config gets when its base has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// nop is the history line of a metadata step: the shell, "#(nop) " and the
// instruction, joined with spaces (hence Docker's double space).
func nop(cfg config.Config, comment string) string {
	return strings.Join(append(append([]string{}, config.Shell(&cfg)...), "#(nop) ", comment), " ")
}

// nopFile is the history line of ADD and COPY (one space, as Docker's).
func nopFile(cfg config.Config, comment string) string {
	return strings.Join(append(append([]string{}, config.Shell(&cfg)...), "#(nop) "+comment), " ")
}

// metaComment words a metadata instruction for the history, as Docker's
// classic builder does.
func metaComment(cmd instructions.Command, cfg *config.Config) (string, error) {
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		s := "ENV"
		for _, kv := range c.Env {
			s += " " + kv.Key + "=" + kv.Value
		}
		return s, nil
	case *instructions.LabelCommand:
		s := "LABEL"
		for _, kv := range c.Labels {
			s += " " + kv.Key + "=" + kv.Value
		}
		return s, nil
	case *instructions.MaintainerCommand:
		return "MAINTAINER " + c.Maintainer, nil
	case *instructions.ExposeCommand:
		return "EXPOSE " + strings.Join(c.Ports, " "), nil
	case *instructions.UserCommand:
		return "USER " + c.User, nil
	case *instructions.VolumeCommand:
		return fmt.Sprintf("VOLUME %v", c.Volumes), nil
	case *instructions.StopSignalCommand:
		return "STOPSIGNAL " + c.Signal, nil
	case *instructions.OnbuildCommand:
		return "ONBUILD " + c.Expression, nil
	case *instructions.HealthCheckCommand:
		h := cfg.Healthcheck
		if h == nil {
			return "HEALTHCHECK NONE", nil
		}
		// Docker prints its HealthConfig with %q: durations quoted,
		// Retries as a rune.
		return fmt.Sprintf("HEALTHCHECK &{%q %q %q %q %q %q}", h.Test, h.Interval.String(), h.Timeout.String(),
			h.StartPeriod.String(), h.StartInterval.String(), rune(h.Retries)), nil
	case *instructions.ShellCommand:
		return fmt.Sprintf("SHELL %v", c.Shell), nil
	case *instructions.CmdCommand:
		return fmt.Sprintf("CMD %q", cfg.Cmd), nil
	case *instructions.EntrypointCommand:
		return fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint), nil
	}
	return "", fmt.Errorf("%s is not supported", strings.ToUpper(cmd.Name()))
}

// run runs a RUN step in a container.
func (bd *build) run(st *stage, c *instructions.RunCommand) error {
	if st.img.ID == "" {
		return errors.New("RUN needs a base image: this scratch stage has no file system yet")
	}
	cmdline := runCommandLine(&st.cfg.Config, c)
	env, recorded := bd.runArgs(st)
	createdBy := strings.Join(cmdline, " ")
	if len(recorded) > 0 {
		createdBy = fmt.Sprintf("|%d %s %s", len(recorded), strings.Join(recorded, " "), createdBy)
	}
	cfg := cloneConfig(st.cfg.Config)
	return bd.commit(st, createdBy, cfg, st.cfg.Author, func() (*images.PendingLayer, error) {
		// The backend runs the step on, and writes its layer above, the
		// stage's snapshot: a base image's layers may be stored only.
		if err := bd.Store.EnsureUnpacked(bd.ctx, st.cfg); err != nil {
			return nil, err
		}
		var cid string
		layer, err := bd.Backend.Run(bd.ctx, RunRequest{
			Image:       st.img.ID,
			ParentChain: images.ChainID(st.cfg),
			Cmd:         cmdline,
			Env:         env,
			User:        cfg.User,
			WorkingDir:  cfg.WorkingDir,
			Stdout:      bd.out,
			Stderr:      bd.out,
			Started: func(id string) {
				cid = id
				bd.printf(" ---> Running in %s\n", shortString(id))
			},
		})
		if err != nil {
			var ee *ExitError
			if errors.As(err, &ee) {
				return nil, &runError{cmd: cmdline, code: ee.Code}
			}
			return nil, err
		}
		bd.printf("Removing intermediate container %s\n", shortString(cid))
		return &layer, nil
	})
}

// runCommandLine is the command a RUN step executes. A shell-form RUN with
// heredocs passes them to the shell, which implements heredocs itself; a
// RUN that is only a heredoc runs its content as the script.
func runCommandLine(cfg *config.Config, c *instructions.RunCommand) []string {
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...)
	}
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) > 0 {
		if h := parser.MustParseHeredoc(strings.TrimSpace(script)); h != nil && len(c.Files) == 1 {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			script = data
		} else {
			for _, f := range c.Files {
				script += "\n" + f.Data + f.Name
			}
		}
	}
	return append(append([]string{}, config.Shell(cfg)...), script)
}

// commit ends a step: the cached child image if there is one, else a new
// image with the step's config and history line, on a new layer when
// layer makes one (nil: an empty-layer step).
func (bd *build) commit(st *stage, createdBy string, cfg config.Config, author string, layer func() (*images.PendingLayer, error)) error {
	if bd.probe(st, createdBy, &cfg, author) {
		return nil
	}
	var pending *images.PendingLayer
	if layer != nil {
		p, err := layer()
		if err != nil {
			return err
		}
		pending = p
	}
	nc := cloneImageConfig(st.cfg)
	created := now()
	nc.Created = created
	nc.Author = author
	nc.Comment = ""
	nc.Config = cfg
	h := ocispec.History{Created: created, CreatedBy: createdBy, Author: author, EmptyLayer: pending == nil}
	nc.History = append(nc.History, h)
	var pl []images.PendingLayer
	if pending != nil {
		nc.RootFS.DiffIDs = append(nc.RootFS.DiffIDs, pending.DiffID)
		pl = append(pl, *pending)
	}
	if nc.RootFS.Type == "" {
		nc.RootFS.Type = "layers"
	}
	img, err := bd.Store.Register(bd.ctx, images.RegisterOptions{Config: nc, Pending: pl, Parent: st.img.ID})
	if err != nil {
		if pending != nil {
			bd.Store.Discard(*pending)
		}
		return err
	}
	if bd.children != nil {
		bd.children[st.img.ID] = append([]digest.Digest{img.ID}, bd.children[st.img.ID]...)
	}
	bd.printf(" ---> %s\n", short(img.ID))
	st.img, st.cfg = img, nc
	return nil
}

// probe looks for the cached result of a step: a child of the current
// image made by the same history line with the same resulting config.
func (bd *build) probe(st *stage, createdBy string, cfg *config.Config, author string) bool {
	if bd.opts.NoCache || bd.busted || bd.children == nil {
		bd.busted = true
		return false
	}
	want, err := json.Marshal(cfg)
	if err != nil {
		bd.busted = true
		return false
	}
	parent := st.cfg
	for _, id := range bd.children[st.img.ID] {
		img, err := bd.Store.Resolve(id.String())
		if err != nil {
			continue
		}
		c, err := bd.Store.Config(img)
		if err != nil || !cacheMatch(parent, c, createdBy, author, want) {
			continue
		}
		bd.printf(" ---> Using cache\n ---> %s\n", short(img.ID))
		st.img, st.cfg = img, c
		return true
	}
	bd.busted = true
	return false
}

// cacheMatch tells whether child is the result of the step on parent.
func cacheMatch(parent, child *images.ImageConfig, createdBy, author string, wantCfg []byte) bool {
	if len(child.History) != len(parent.History)+1 {
		return false
	}
	h := child.History[len(child.History)-1]
	if h.CreatedBy != createdBy || child.Author != author {
		return false
	}
	pd, cd := parent.RootFS.DiffIDs, child.RootFS.DiffIDs
	n := len(pd)
	if !h.EmptyLayer {
		n++
	}
	if len(cd) != n {
		return false
	}
	for i := range pd {
		if pd[i] != cd[i] {
			return false
		}
	}
	got, err := json.Marshal(&child.Config)
	return err == nil && string(got) == string(wantCfg)
}

// workdir sets the working directory and, like Docker, creates it when the
// image does not have it (a layer holding the new directories).
func (bd *build) workdir(st *stage, c *instructions.WorkdirCommand) error {
	state := &config.State{Config: cloneConfig(st.cfg.Config), CmdSet: st.cmdSet, Author: st.cfg.Author}
	if err := config.ApplyOne(state, c, bd.lex, argEnv(st.args)); err != nil {
		return err
	}
	wd := state.Config.WorkingDir
	return bd.commit(st, nopFile(state.Config, "WORKDIR "+wd), state.Config, state.Author, func() (*images.PendingLayer, error) {
		m, err := bd.mountImage(st.cfg)
		if err != nil {
			return nil, err
		}
		defer bd.release(m)
		host, err := m.resolve(wd)
		if err != nil {
			return nil, err
		}
		rel := m.rel(host)
		if m.Root == "" {
			rel = strings.TrimPrefix(wd, "/")
		}
		if rel == "" {
			return nil, nil
		}
		if fi, err := m.lstat(rel); err == nil {
			if fi.IsDir() {
				return nil, nil
			}
			return nil, fmt.Errorf("WORKDIR %s: not a directory in the image", wd)
		}
		return bd.writeLayer(st, func(lt *layerTar) error {
			return lt.mkdirAll(rel)
		}, m)
	})
}

// writeLayer streams the tar that fill writes into a new layer on the
// stage's current image.
func (bd *build) writeLayer(st *stage, fill func(*layerTar) error, m *fsMount) (*images.PendingLayer, error) {
	if err := bd.Store.EnsureUnpacked(bd.ctx, st.cfg); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		lt := newLayerTar(pw, m)
		err := fill(lt)
		if err == nil {
			err = lt.tw.Close()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	layer, err := bd.Store.WriteLayer(bd.ctx, images.ChainID(st.cfg), pr)
	pr.CloseWithError(io.ErrClosedPipe)
	werr := <-errc
	if werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		if err == nil {
			bd.Store.Discard(layer)
		}
		return nil, werr
	}
	if err != nil {
		return nil, err
	}
	return &layer, nil
}

func cloneConfig(c config.Config) config.Config {
	var out config.Config
	b, err := json.Marshal(c)
	if err == nil && json.Unmarshal(b, &out) == nil {
		return out
	}
	return c
}

func cloneImageConfig(c *images.ImageConfig) *images.ImageConfig {
	var out images.ImageConfig
	b, err := json.Marshal(c)
	if err == nil && json.Unmarshal(b, &out) == nil {
		return &out
	}
	cp := *c
	return &cp
}

func shortString(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
