package shim

import (
	"net"
	"sync"
	"time"

	"github.com/ctrd/ctrd/runtime/attach"
)

// clientQueue bounds the frames waiting for one attach client. When it is
// full the output is held back (the container then blocks writing, as with
// Docker) for up to slowClientTimeout; a client stuck that long (e.g. a
// suspended CLI) is disconnected.
const (
	clientQueue       = 64
	slowClientTimeout = 5 * time.Second
)

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
	// The handshake goes first, before any output can be queued.
	c.q <- attach.AppendFrame(nil, attach.Attached, nil)
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

// broadcast sends output to every client.
func (h *hub) broadcast(stream byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	h.deliverLocked(attach.AppendFrame(make([]byte, 0, 5+len(p)), stream, p))
}

// deliverLocked queues frame f for every client, waiting for full queues
// up to slowClientTimeout in all; clients still full then are dropped.
func (h *hub) deliverLocked(f []byte) {
	var timer *time.Timer
	expired := false
	for c := range h.clients {
		select {
		case c.q <- f:
			continue
		default:
		}
		if !expired {
			if timer == nil {
				timer = time.NewTimer(slowClientTimeout)
				defer timer.Stop()
			}
			select {
			case c.q <- f:
				continue
			case <-timer.C:
				expired = true
			}
		}
		logf("attach client stuck for %v, disconnecting it", slowClientTimeout)
		h.dropLocked(c)
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
	h.deliverLocked(h.exit)
	for c := range h.clients {
		h.dropLocked(c)
	}
}
