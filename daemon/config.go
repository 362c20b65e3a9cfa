package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
)

// Defaults of the daemon's settings.
const (
	DefaultConfigFile = "/etc/ctrd/daemon.json"
	DefaultDataRoot   = "/var/lib/ctrd"
	DefaultExecRoot   = "/run/ctrd"
	DefaultHost       = "unix:///run/ctrd/ctrd.sock"
)

// Config holds the daemon's settings: daemon.json keys, overridden by flags.
// Unknown keys in daemon.json are an error, as a typo must not be silently
// ignored.
type Config struct {
	DataRoot           string   `json:"data-root,omitempty"`
	ExecRoot           string   `json:"exec-root,omitempty"`
	Hosts              []string `json:"hosts,omitempty"`
	LogLevel           string   `json:"log-level,omitempty"`
	Bridge             string   `json:"bridge,omitempty"`
	BIP                string   `json:"bip,omitempty"`
	CgroupParent       string   `json:"cgroup-parent,omitempty"`
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`
	Debug              bool     `json:"debug,omitempty"`
}

// LoadConfig reads a daemon.json. A missing file is not an error when
// optional is set (the default path may well not exist).
func LoadConfig(path string, optional bool) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return c, nil
		}
		return c, fmt.Errorf("read config file %s: %w", path, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config file %s: %s", path, describeJSONError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return c, fmt.Errorf("config file %s: unexpected data after the JSON object", path)
	}
	return c, nil
}

func describeJSONError(b []byte, err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "invalid JSON: unexpected end of file (is the object closed?)"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:se.Offset], []byte("\n"))
		return fmt.Sprintf("invalid JSON at line %d: %s", line, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("key %q: expected a %s", te.Field, te.Type)
	}
	msg := err.Error()
	// "json: unknown field \"x\"" -> name the key the way users wrote it.
	var field string
	if _, e := fmt.Sscanf(msg, "json: unknown field %q", &field); e == nil {
		return fmt.Sprintf("unknown key %q (valid keys: data-root, exec-root, hosts, log-level, bridge, bip, cgroup-parent, insecure-registries, registry-mirrors, debug)", field)
	}
	return msg
}

// Merge fills empty settings of c from file and then from defaults.
func (c *Config) Merge(file Config) {
	if c.DataRoot == "" {
		c.DataRoot = file.DataRoot
	}
	if c.ExecRoot == "" {
		c.ExecRoot = file.ExecRoot
	}
	if len(c.Hosts) == 0 {
		c.Hosts = file.Hosts
	}
	if c.LogLevel == "" {
		c.LogLevel = file.LogLevel
	}
	if c.Bridge == "" {
		c.Bridge = file.Bridge
	}
	if c.BIP == "" {
		c.BIP = file.BIP
	}
	if c.CgroupParent == "" {
		c.CgroupParent = file.CgroupParent
	}
	if len(c.InsecureRegistries) == 0 {
		c.InsecureRegistries = file.InsecureRegistries
	}
	if len(c.RegistryMirrors) == 0 {
		c.RegistryMirrors = file.RegistryMirrors
	}
	c.Debug = c.Debug || file.Debug
	c.setDefaults()
}

func (c *Config) setDefaults() {
	if c.DataRoot == "" {
		c.DataRoot = DefaultDataRoot
	}
	if c.ExecRoot == "" {
		c.ExecRoot = DefaultExecRoot
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{DefaultHost}
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
		if c.Debug {
			c.LogLevel = "debug"
		}
	}
	if c.Bridge == "" {
		c.Bridge = "ctr0"
	}
	if c.BIP == "" {
		c.BIP = "10.88.0.1/16"
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "/ctrd"
	}
}

// Validate checks values that flags and file could not.
func (c *Config) Validate() error {
	if _, err := logrus.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("invalid log-level %q: use debug, info, warn, error or fatal", c.LogLevel)
	}
	for _, p := range []struct{ name, v string }{{"data-root", c.DataRoot}, {"exec-root", c.ExecRoot}} {
		if p.v == "" || p.v[0] != '/' {
			return fmt.Errorf("invalid %s %q: must be an absolute path", p.name, p.v)
		}
	}
	return nil
}
