package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestCommandsTable: each command is listed under the name and aliases its
// builder gives it, as finding the command to build relies on them.
func TestCommandsTable(t *testing.T) {
	c := &CLI{}
	for _, e := range c.commands() {
		cmd := e.build()
		if cmd.Name() != e.name || !slices.Equal(cmd.Aliases, e.aliases) {
			t.Errorf("table says %q %q, builder %q %q", e.name, e.aliases, cmd.Name(), cmd.Aliases)
		}
	}
}

// TestPrepareFindsAsCobra: the command prepared for args is the one cobra
// finds in the full tree, with its flags defined.
func TestPrepareFindsAsCobra(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--rm", "busybox", "true"}, {"-H", "unix:///x", "ps", "-a"}, {"--host=unix:///x", "volume", "ls", "-q"},
		{"network", "create", "--subnet", "10.0.0.0/24", "n"}, {"volume"}, {"image ls"}, {"version"},
		{"run", "--help"}, {"build", "-t", "x", "."}, {"exec", "-it", "c", "sh"}, {"unpause", "x"},
	} {
		full := &CLI{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
		froot := full.rootCommand()
		for _, e := range full.commands() {
			froot.AddCommand(e.build())
		}
		want, _, err := froot.Find(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		lazy := &CLI{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
		lroot := lazy.rootCommand()
		lazy.prepare(lroot, args)
		got, _, err := lroot.Find(args)
		if err != nil || got.CommandPath() != want.CommandPath() {
			t.Errorf("%q: prepared %q (%v), cobra finds %q", args, got.CommandPath(), err, want.CommandPath())
			continue
		}
		if define := full.flagDefs[want]; define != nil {
			define(want.Flags())
		}
		if g, w := got.Flags().FlagUsages(), want.Flags().FlagUsages(); g != w {
			t.Errorf("%q: flags\n%s\nwant\n%s", args, g, w)
		}
		if len(lroot.Commands()) != 1 || !strings.HasPrefix(got.CommandPath(), "ctr "+lroot.Commands()[0].Name()) {
			t.Errorf("%q: built %d commands", args, len(lroot.Commands()))
		}
	}
}
