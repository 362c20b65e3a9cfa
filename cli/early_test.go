package cli

import "testing"

func TestCommandWord(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		word      string
		hostGiven bool
	}{
		{nil, "", false},
		{[]string{"run", "--rm", "busybox", "ls", "-H"}, "run", false},
		{[]string{"-H", "unix:///x.sock", "ps", "-a"}, "ps", true},
		{[]string{"--host", "unix:///x.sock", "create", "busybox"}, "create", true},
		{[]string{"--host=unix:///x.sock", "images"}, "images", true},
		{[]string{"-Hunix:///x.sock", "images"}, "images", true},
		{[]string{"--help"}, "", false},
		{[]string{"--version", "run"}, "run", false},
	} {
		word, hostGiven := commandWord(tc.args)
		if word != tc.word || hostGiven != tc.hostGiven {
			t.Errorf("commandWord(%q) = %q, %v; want %q, %v", tc.args, word, hostGiven, tc.word, tc.hostGiven)
		}
	}
}
