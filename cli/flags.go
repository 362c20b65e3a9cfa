package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// stringArray is pflag's stringArray flag (repeatable, every use appends,
// the first replaces the default) without its cost at definition: pflag
// writes each string array's default as CSV through a fresh 4 KiB buffer
// when the flag is defined, and `run` alone has 18 of them. Help shows the
// same type name and, as for pflag's own with an empty default, no default.
type stringArray struct {
	p       *[]string
	changed bool
}

// stringArrayVar is FlagSet.StringArrayVarP with an empty default.
func stringArrayVar(f *pflag.FlagSet, p *[]string, name, shorthand, usage string) {
	*p = nil
	f.VarP(&stringArray{p: p}, name, shorthand, usage)
}

func (s *stringArray) Set(v string) error {
	if !s.changed {
		*s.p = []string{v}
		s.changed = true
	} else {
		*s.p = append(*s.p, v)
	}
	return nil
}

func (s *stringArray) Type() string { return "stringArray" }

// String is empty for no values, so that help shows no default.
func (s *stringArray) String() string {
	if len(*s.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*s.p, ",") + "]"
}

// GetSlice marks the flag as repeatable for shell completion.
func (s *stringArray) GetSlice() []string { return *s.p }
