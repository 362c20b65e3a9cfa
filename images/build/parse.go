package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ctrd/ctrd/images"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// stage is one FROM section of the Dockerfile and its build state.
type stage struct {
	index int
	name  string // lower case, "" if unnamed
	from  *instructions.Stage
	line  int
	cmds  []step

	// The build state: the current image (ID "" for scratch before any
	// step) and its config.
	img    images.Image
	cfg    *images.ImageConfig
	cmdSet bool
	args   []argValue
}

// step is one instruction with its position.
type step struct {
	cmd  instructions.Command
	line int
	text string
	node *parser.Node
}

// parse reads the Dockerfile into stages, keeping those up to the target,
// and appends one LABEL step per --label to the last one (Docker's rule).
func (bd *build) parse(labels []kv) error {
	data, err := bd.readDockerfile()
	if err != nil {
		return err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		line := errLine(err)
		if strings.Contains(err.Error(), "file with no instructions") {
			return bd.errorf(1, "the Dockerfile (%s) cannot be empty", bd.dfName)
		}
		return bd.errorf(line, "%s", cleanMsg(err))
	}
	for _, w := range res.Warnings {
		bd.printf("[WARNING]: %s\n", w.Short)
	}
	bd.lex = shell.NewLex(res.EscapeToken)

	var metaArgs []*instructions.ArgCommand
	for _, n := range res.AST.Children {
		if err := checkJSON(n); err != nil {
			return bd.errorf(n.StartLine, "%s", err)
		}
		v, err := instructions.ParseInstruction(n)
		if err != nil {
			return bd.errorf(n.StartLine, "%s", instructionError(err))
		}
		switch c := v.(type) {
		case *instructions.Stage:
			bd.stages = append(bd.stages, &stage{index: len(bd.stages), name: c.Name, from: c, line: n.StartLine})
		case instructions.Command:
			if len(bd.stages) == 0 {
				if a, ok := c.(*instructions.ArgCommand); ok {
					metaArgs = append(metaArgs, a)
					continue
				}
				return bd.errorf(n.StartLine, "no build stage: %s before FROM (only ARG may precede the first FROM)", strings.ToUpper(c.Name()))
			}
			if err := checkSupported(c); err != nil {
				return bd.errorf(n.StartLine, "%s", err)
			}
			st := bd.stages[len(bd.stages)-1]
			st.cmds = append(st.cmds, step{cmd: c, line: n.StartLine, text: strings.TrimSpace(n.Original), node: n})
		}
	}
	if len(bd.stages) == 0 {
		return bd.errorf(lastLine(res.AST), "no FROM instruction: a Dockerfile needs at least one FROM")
	}
	if err := bd.metaArgs(metaArgs); err != nil {
		return err
	}
	if t := bd.opts.Target; t != "" {
		found := false
		for i, st := range bd.stages {
			if strings.EqualFold(st.name, t) {
				bd.stages = bd.stages[:i+1]
				found = true
				break
			}
		}
		if !found {
			return bd.errorf(0, "target stage %q could not be found", t)
		}
	}
	last := bd.stages[len(bd.stages)-1]
	sort.SliceStable(labels, func(i, j int) bool { return labels[i].Key < labels[j].Key })
	for _, l := range labels {
		c := instructions.NewLabelCommand(l.Key, *l.Value, true)
		last.cmds = append(last.cmds, step{cmd: c, text: c.String()})
	}
	for _, st := range bd.stages {
		bd.total += 1 + len(st.cmds)
	}
	return nil
}

// checkJSON refuses an exec form that is meant to be JSON (it starts with
// `["`) but is not valid JSON: Docker would silently run it as a shell
// command line.
func checkJSON(n *parser.Node) error {
	name := strings.ToUpper(n.Value)
	switch name {
	case "RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "ADD", "COPY", "HEALTHCHECK":
	default:
		return nil
	}
	if n.Attributes["json"] {
		return nil
	}
	rest := strings.TrimSpace(n.Original)
	if i := strings.IndexFunc(rest, isSpace); i >= 0 {
		rest = strings.TrimSpace(rest[i:])
	} else {
		return nil
	}
	for strings.HasPrefix(rest, "--") {
		i := strings.IndexFunc(rest, isSpace)
		if i < 0 {
			return nil
		}
		rest = strings.TrimSpace(rest[i:])
	}
	if name == "HEALTHCHECK" {
		w, r, _ := strings.Cut(rest, " ")
		if !strings.EqualFold(w, "CMD") {
			return nil
		}
		rest = strings.TrimSpace(r)
	}
	if !strings.HasPrefix(rest, `["`) {
		return nil
	}
	var v []string
	err := json.Unmarshal([]byte(rest), &v)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: invalid JSON in exec form %s: %v", name, rest, err)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

// checkSupported refuses the BuildKit-only flags the classic builder does
// not have either.
func checkSupported(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.RunCommand:
		if len(c.FlagsUsed) > 0 {
			return fmt.Errorf("RUN --%s is not supported by ctrd's builder", c.FlagsUsed[0])
		}
	case *instructions.CopyCommand:
		if c.Parents {
			return errors.New("COPY --parents is not supported by ctrd's builder")
		}
		if len(c.ExcludePatterns) > 0 {
			return errors.New("COPY --exclude is not supported by ctrd's builder")
		}
	case *instructions.AddCommand:
		switch {
		case len(c.ExcludePatterns) > 0:
			return errors.New("ADD --exclude is not supported by ctrd's builder")
		case c.Checksum != "":
			return errors.New("ADD --checksum is not supported by ctrd's builder")
		case c.KeepGitDir != nil:
			return errors.New("ADD --keep-git-dir is not supported by ctrd's builder")
		case c.Unpack != nil:
			return errors.New("ADD --unpack is not supported by ctrd's builder")
		}
	}
	return nil
}

// instructionError words a buildkit instruction error.
func instructionError(err error) string {
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) {
		return "unknown instruction: " + strings.ToUpper(ue.Instruction)
	}
	return cleanMsg(err)
}

func cleanMsg(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			msg = msg[i+j+2:]
		}
	}
	return strings.TrimSpace(msg)
}

// errLine is the first line a parser error names (1 if none).
func errLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			for _, r := range loc {
				if r.Start.Line > 0 {
					return r.Start.Line
				}
			}
		}
	}
	return 1
}

func lastLine(n *parser.Node) int {
	if n == nil || len(n.Children) == 0 {
		return 1
	}
	return n.Children[len(n.Children)-1].EndLine
}

// stageByName finds a stage built before st by name or index.
func (bd *build) stageByName(name string, before int) (*stage, bool) {
	for _, s := range bd.stages[:before] {
		if s.name != "" && strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < before {
		return bd.stages[i], true
	}
	return nil, false
}
