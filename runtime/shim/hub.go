package shim

import (
	"net"
	"sync"

	"github.com/ctrd/ctrd/runtime/attach"
)

// clientQueue bounds the frames waiting for one attach client. A client
// that falls this far behind is disconnected rather than allowed to stall
// the container's output (which always reaches the log).
const clientQueue = 256

// hub fans a process's output out to its attach clients.
type hub struct {
	mu      sync.Mutex
	clients map[*attachClient]struct{}
	exit    []byte // the exit frame, once the process is done
}

type attachClient struct {
	conn   *net.UnixConn
	q      chan []byte
	closed bool // q closed; guarded by hub.mu
}

// add registers a connected client. Once the process has finished, the
// client only receives the exit frame.
func (h *hub) add(conn *net.UnixConn) *attachClient {
	c := &attachClient{conn: conn, q: make(chan []byte, clientQueue)}
	h.mu.Lock()
	if h.exit != nil {
		c.q <- h.exit
		close(c.q)
		c.closed = true
	} else {
		if h.clients == nil {
			h.clients = make(map[*attachClient]struct{})
		}
		h.clients[c] = struct{}{}
	}
	h.mu.Unlock()
	go c.writeLoop()
	return c
}

func (c *attachClient) writeLoop() {
	for f := range c.q {
		if _, err := c.conn.Write(f); err != nil {
			break
		}
	}
	c.conn.Close()
	for range c.q {
	}
}

// remove drops a client (it disconnected).
func (h *hub) remove(c *attachClient) {
	h.mu.Lock()
	h.dropLocked(c)
	h.mu.Unlock()
}

func (h *hub) dropLocked(c *attachClient) {
	delete(h.clients, c)
	if !c.closed {
		c.closed = true
		close(c.q)
	}
}

// active reports whether any client is attached.
func (h *hub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients) > 0
}

// broadcast sends output to every client.
func (h *hub) broadcast(stream byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	f := attach.AppendFrame(make([]byte, 0, 5+len(p)), stream, p)
	for c := range h.clients {
		select {
		case c.q <- f:
		default:
			logf("attach client too slow, disconnecting it")
			h.dropLocked(c)
		}
	}
}

// finish sends the exit frame to every client, closes them, and answers
// later clients with it.
func (h *hub) finish(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.exit != nil {
		return
	}
	h.exit = attach.AppendFrame(nil, attach.Exit, attach.ExitPayload(code))
	for c := range h.clients {
		select {
		case c.q <- h.exit:
		default:
		}
		h.dropLocked(c)
	}
}
