package cli

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestStringArrayLikePflag: the cheap string array parses and shows in
// help exactly as pflag's own.
func TestStringArrayLikePflag(t *testing.T) {
	for _, args := range [][]string{
		nil, {"-e", "A=1"}, {"-e", "A=1", "--env", "B=2", "--env=C=3,D"}, {"--env="}, {"-eX", "-e", `"q"`},
	} {
		var want, got []string
		theirs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		theirs.StringArrayVarP(&want, "env", "e", nil, "Set environment variables")
		ours := pflag.NewFlagSet("x", pflag.ContinueOnError)
		stringArrayVar(ours, &got, "env", "e", "Set environment variables")
		if err := theirs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := ours.Parse(args); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || (want == nil) != (got == nil) {
			t.Fatalf("%q: got %q, want %q", args, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%q: got %q, want %q", args, got, want)
			}
		}
		if g, w := ours.FlagUsages(), theirs.FlagUsages(); g != w {
			t.Errorf("usage %q, want %q", g, w)
		}
	}
}
