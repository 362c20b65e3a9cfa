package build

import (
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// argValue is a declared ARG and its value (nil: declared without one).
type argValue struct {
	key   string
	value *string
}

// predefinedArgs may be given with --build-arg without an ARG. They reach
// RUN's environment but, unless declared, neither the history nor the cache
// key (Docker's rule: proxies differ between hosts).
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// given returns the --build-arg value of key, if one was given with a value.
func (bd *build) given(key string) (*string, bool) {
	var v *string
	found := false
	for _, a := range bd.buildArgs {
		if a.Key == key && a.Value != nil {
			v, found = a.Value, true
		}
	}
	return v, found
}

// metaArgs resolves the ARGs before the first FROM. Their defaults may use
// the ones before them.
func (bd *build) metaArgs(cmds []*instructions.ArgCommand) error {
	for _, c := range cmds {
		env := argEnv(bd.meta)
		if err := c.Expand(bd.expander(env)); err != nil {
			return bd.errorf(lineOf(c), "%s", err)
		}
		for _, a := range c.Args {
			bd.argsUsed[a.Key] = true
			v := a.Value
			if g, ok := bd.given(a.Key); ok {
				v = g
			}
			bd.meta = setArg(bd.meta, a.Key, v)
		}
	}
	return nil
}

// declare handles ARG in a stage: the value is the --build-arg one, else the
// default, else (ARG NAME alone) the value of the global ARG of that name.
func (bd *build) declare(st *stage, c *instructions.ArgCommand) {
	for _, a := range c.Args {
		bd.argsUsed[a.Key] = true
		v := a.Value
		if g, ok := bd.given(a.Key); ok {
			v = g
		} else if v == nil {
			for _, m := range bd.meta {
				if m.key == a.Key {
					v = m.value
				}
			}
		}
		st.args = setArg(st.args, a.Key, v)
	}
}

func setArg(list []argValue, key string, v *string) []argValue {
	for i := range list {
		if list[i].key == key {
			list[i].value = v
			return list
		}
	}
	return append(list, argValue{key: key, value: v})
}

// argEnv is KEY=VALUE for the args that have a value.
func argEnv(list []argValue) []string {
	var env []string
	for _, a := range list {
		if a.value != nil {
			env = append(env, a.key+"="+*a.value)
		}
	}
	return env
}

// envKeys is the set of names an environment defines.
func envKeys(env []string) map[string]bool {
	m := map[string]bool{}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		m[k] = true
	}
	return m
}

// runArgs returns the build arguments of a RUN step: env for the container
// (declared args with a value that ENV does not override, plus given
// predefined proxies) and the subset recorded in history and the cache key.
func (bd *build) runArgs(st *stage) (env, recorded []string) {
	set := envKeys(st.cfg.Config.Env)
	declared := map[string]bool{}
	for _, a := range st.args {
		declared[a.key] = true
		if a.value == nil || set[a.key] {
			continue
		}
		kv := a.key + "=" + *a.value
		env = append(env, kv)
		recorded = append(recorded, kv)
	}
	for _, a := range bd.buildArgs {
		if predefinedArgs[a.Key] && !declared[a.Key] && a.Value != nil && !set[a.Key] {
			bd.argsUsed[a.Key] = true
			env = append(env, a.Key+"="+*a.Value)
		}
	}
	sort.Strings(recorded)
	return env, recorded
}

// stageEnv is the environment ARG and ENV values are expanded in: the
// stage's build arguments, overridden by its configuration's ENV.
func (bd *build) stageEnv(st *stage) []string {
	return append(argEnv(st.args), st.cfg.Config.Env...)
}

func (bd *build) expander(env []string) instructions.SingleWordExpander {
	getter := shell.EnvsFromSlice(env)
	return func(word string) (string, error) {
		res, _, err := bd.lex.ProcessWord(word, getter)
		return res, err
	}
}

// unusedArgs lists the --build-arg names no ARG declared.
func (bd *build) unusedArgs() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range bd.buildArgs {
		if !bd.argsUsed[a.Key] && !predefinedArgs[a.Key] && !seen[a.Key] {
			seen[a.Key] = true
			out = append(out, a.Key)
		}
	}
	sort.Strings(out)
	return out
}

func lineOf(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}
