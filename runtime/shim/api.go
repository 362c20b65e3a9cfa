package shim

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ctrd/ctrd/rpc"
)

// The shim's API on <bundle>/shim.sock, carried by package rpc. In every
// request an empty ExecID addresses the container's init process; any
// other, an exec process registered by Exec. Process stdio never travels
// here: every process has its own attach socket (runtime/attach).
const (
	// State reports a process's State.
	methodState = "State"
	// Start runs the user's program: for init, the container created at
	// the shim's start executes it; for an exec, the process is spawned
	// in the container. Replies a startReply.
	methodStart = "Start"
	// Wait blocks until the process has exited and its output is
	// drained. Replies its ExitStatus.
	methodWait = "Wait"
	// Kill signals the process (killRequest).
	methodKill = "Kill"
	// Resize sets the size of the process's pty (resizeRequest).
	methodResize = "Resize"
	// CloseStdin closes the write side of the process's stdin.
	methodCloseStdin = "CloseStdin"
	// Pause and Resume freeze and thaw the container's cgroup.
	methodPause  = "Pause"
	methodResume = "Resume"
	// Pids lists the host pids of the container's processes ([]int).
	methodPids = "Pids"
	// Exec registers a process (execRequest), not started yet, and opens
	// its attach socket.
	methodExec = "Exec"
	// Delete, for an exec, forgets an exited exec process; for init,
	// kills whatever still runs, destroys the container and makes the
	// shim exit. Replies the process's ExitStatus.
	methodDelete = "Delete"
)

type processRequest struct {
	ExecID string `json:"exec_id,omitempty"`
}

type startReply struct {
	Pid int `json:"pid"`
}

type killRequest struct {
	ExecID string `json:"exec_id,omitempty"`
	Signal int    `json:"signal"`
	// All signals every process of the container (init only).
	All bool `json:"all,omitempty"`
}

type resizeRequest struct {
	ExecID string `json:"exec_id,omitempty"`
	Width  uint32 `json:"width"`
	Height uint32 `json:"height"`
}

type execRequest struct {
	ExecID  string         `json:"exec_id"`
	Process *specs.Process `json:"process"`
	Tty     bool           `json:"tty,omitempty"`
	Stdin   bool           `json:"stdin,omitempty"`
}

// Error codes of the API: the client turns them back into this package's
// errors (Client.fromRPC).
const (
	codeNotFound      = "not_found"      // ErrNotFound
	codeAlreadyExists = "already_exists" // ErrAlreadyExists
	codeNotRunning    = "not_running"    // ErrNotRunning
	codeState         = "state"          // ErrState
	codeStart         = "start"          // *StartError
	codeInvalid       = "invalid_argument"
)

// request decodes a request's params for f.
func request[R any](params json.RawMessage, f func(R) (any, error)) (any, error) {
	var r R
	if len(params) > 0 {
		if err := json.Unmarshal(params, &r); err != nil {
			return nil, rpc.Errorf(codeInvalid, "request: %v", err)
		}
	}
	return f(r)
}
