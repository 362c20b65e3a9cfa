package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(writeFile(t, `{"data-root":"/d","hosts":["unix:///x.sock"],"log-level":"debug","insecure-registries":["127.0.0.1:5000"]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	flags := Config{DataRoot: "/flag"}
	flags.Merge(c)
	if flags.DataRoot != "/flag" || flags.Hosts[0] != "unix:///x.sock" || flags.LogLevel != "debug" || flags.ExecRoot != DefaultExecRoot {
		t.Errorf("merged = %+v", flags)
	}
	if err := flags.Validate(); err != nil {
		t.Error(err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"data-rot":"/d"}`: `unknown key "data-rot"`,
		`{"data-root": }`:   "invalid JSON at line 1",
		`{"hosts":"x"}`:     `key "hosts"`,
		`{"debug":true} {}`: "unexpected data",
		"{\n\"a\":1,\n,}\n": "line 3",
	} {
		_, err := LoadConfig(writeFile(t, in), false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig(%s) = %v, want error containing %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
	}
	if _, err := LoadConfig("/nonexistent/daemon.json", true); err != nil {
		t.Errorf("missing optional config: %v", err)
	}
	if _, err := LoadConfig("/nonexistent/daemon.json", false); err == nil {
		t.Error("missing explicit config accepted")
	}
	c := Config{LogLevel: "loud"}
	c.Merge(Config{})
	if err := c.Validate(); err == nil {
		t.Error("bad log level accepted")
	}
}
