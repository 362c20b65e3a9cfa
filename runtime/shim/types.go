// Package shim is ctrd's per-container runtime shim and its client.
//
// ctrd never parents a container. For every container it starts
// "<ctrd> shim ..." (Start), which creates the container with libcontainer,
// stays its parent, owns its stdio (a pty or pipes), writes its json-file
// log, records its exit status durably in <bundle>/exit.json, and serves a
// small API (api.go, carried by package rpc) on <bundle>/shim.sock.
// The shim runs in its own session, so ctrd may exit or crash and
// reconnect later (Connect).
//
// Process stdio is not proxied through ctrd: each process has an attach
// socket (<bundle>/attach.sock for init, <bundle>/exec-<id>.sock for an
// exec) that clients dial directly with runtime/attach.
package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Files the shim keeps in the bundle directory.
const (
	socketName     = "shim.sock"
	attachName     = "attach.sock"
	exitFileName   = "exit.json"
	pidFileName    = "shim.pid"
	shimLogName    = "shim.log"
	configFileName = "config.json"
)

// SocketPath is the shim's API socket for a bundle.
func SocketPath(bundle string) string { return filepath.Join(bundle, socketName) }

// AttachSocketPath is the attach socket (runtime/attach) of the container's
// init process (execID "") or of an exec'd process.
func AttachSocketPath(bundle, execID string) string {
	if execID == "" {
		return filepath.Join(bundle, attachName)
	}
	if len(execID) > 64 {
		// Keep the name short enough for a sockaddr_un.
		sum := sha256.Sum256([]byte(execID))
		execID = hex.EncodeToString(sum[:16])
	}
	return filepath.Join(bundle, "exec-"+execID+".sock")
}

// StartOptions describe a container for Start.
type StartOptions struct {
	ID string
	// Bundle holds config.json (an OCI runtime spec whose Root.Path is
	// already mounted). The shim keeps its sockets and exit file there.
	Bundle string
	// StateRoot is libcontainer's state root, e.g. <exec-root>/runc.
	StateRoot string
	// Binary is the ctrd executable to re-exec as "<Binary> shim";
	// default os.Executable().
	Binary string
	// Tty allocates a pty for the init process; Stdin keeps a stdin
	// pipe open (without it, stdin is /dev/null).
	Tty, Stdin bool
	// LogPath is the json-file log (no log if empty), rotated at
	// LogMaxSize bytes (0: never) keeping LogMaxFiles files.
	LogPath     string
	LogMaxSize  int64
	LogMaxFiles int
	// ShimLog receives the shim's own diagnostics; default
	// <bundle>/shim.log.
	ShimLog string
	// Debug makes the shim and libcontainer log at debug level.
	Debug bool
	// Standby, if set and of Binary, provides a shim already started.
	Standby *Standby
}

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	// ID names the exec; letters, digits, '_', '-' and '.' only.
	ID      string
	Process *specs.Process
	Tty     bool
	Stdin   bool
}

// Status of a container or process.
type Status string

const (
	Created Status = "created"
	Running Status = "running"
	Paused  Status = "paused"
	Stopped Status = "stopped"
)

// State of a container's init process (ExecID "") or of an exec.
type State struct {
	ID, ExecID   string
	Pid          int
	Status       Status
	ExitCode     int
	StartedAt    time.Time
	ExitedAt     time.Time
	Tty, Stdin   bool
	ShimPid      int
	AttachSocket string
}

// ExitStatus is how a process ended: its exit code, or 128+n for a death by
// signal n, as Docker reports it.
type ExitStatus struct {
	Code     int       `json:"exit_code"`
	ExitedAt time.Time `json:"exited_at"`
	// Error is set when the exit code could not be learnt.
	Error string `json:"error,omitempty"`
}

// Errors the client returns; test with errors.Is.
var (
	// ErrShimGone: no shim answers for the bundle (it exited, was killed,
	// or never ran). See ReadExitFile and Cleanup.
	ErrShimGone = errors.New("shim is not running")
	// ErrNotFound: no such exec process.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an exec with this ID exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotRunning / wrong state for the request (e.g. Kill after exit,
	// Start twice).
	ErrNotRunning = errors.New("process is not running")
	ErrState      = errors.New("invalid process state")
)

// StartError is a failure to create or start a container's process.
// ExitCode maps it as Docker does: 127 when the executable (or the working
// directory) was not found, 126 when it could not be invoked (permission
// denied, a directory), 128 for any other start failure.
type StartError struct {
	ExitCode int
	Msg      string
}

func (e *StartError) Error() string { return e.Msg }

func newStartError(msg string) *StartError {
	return &StartError{ExitCode: startExitCode(msg), Msg: msg}
}

func startExitCode(msg string) int {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "executable file not found"),
		strings.Contains(m, "no such file or directory"):
		return 127
	case strings.Contains(m, "permission denied"),
		strings.Contains(m, "is a directory"),
		strings.Contains(m, "exec format error"):
		return 126
	}
	return 128
}

func validID(id string) error {
	if id == "" || len(id) > 1024 {
		return fmt.Errorf("invalid id %q", id)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '_', r == '-', r == '.':
		default:
			return fmt.Errorf("invalid id %q", id)
		}
	}
	if id == "." || id == ".." {
		return fmt.Errorf("invalid id %q", id)
	}
	return nil
}
