// Package rpc is the transport of ctrd's API (package api, between ctr and
// ctrd) and of the shim's (runtime/shim): JSON requests and replies, each
// framed by a 4-byte big-endian length, on a stream connection, with any
// number of calls under way at once. A call may stream events before its
// reply (Send, CallStream).
//
// It stands in for ttrpc because of what ttrpc links: protobuf and parts of
// grpc, whose package initialisation and pages every process would carry.
// The shim's binary is executed again as each container's init, and ctr
// starts on every command; both are on the path of every container start.
// Measured here (no-op runs, median of 31): ctrd-shim with ttrpc started in
// 15.2 ms and was 12.4 MB; without, 12.9 ms and 10.0 MB. A client that
// dials ctrd and makes one call: 13.0 ms with ttrpc, 9.3 ms with this.
package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// maxFrame bounds a message: most are under a few kilobytes; the largest
// are lists of containers or images, and upload chunks.
const maxFrame = 16 << 20

// message is a request (Method set), an event of request ID (Event set) or
// its reply (neither).
type message struct {
	ID     uint64 `json:"id"`
	Method string `json:"method,omitempty"`
	// Timeout is what was left of the caller's deadline, in ns.
	Timeout int64           `json:"timeout,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	// Data is a request's bulk bytes (CallData), carried after the JSON
	// as they are: base64 in JSON would cost a third more bytes and a
	// pass of encoding and decoding over each of them.
	Data []byte `json:"-"`
}

// A frame is its length (4 bytes, big-endian), then the message's JSON.
// With Data, the length has dataFlag set and the frame is the JSON's
// length (4 bytes), the JSON, then Data.
const dataFlag = 1 << 31

// Error is an error that crossed the connection: a handler's *Error keeps
// its Code, any other error arrives as its message alone.
type Error struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Codes of the context's errors: a handler's context ending travels as
// one, and comes out as the same context error.
const (
	CodeCanceled         = "canceled"
	CodeDeadlineExceeded = "deadline_exceeded"
)

// Unwrap gives the context error of a context code.
func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeCanceled:
		return context.Canceled
	case CodeDeadlineExceeded:
		return context.DeadlineExceeded
	}
	return nil
}

// Errorf returns an *Error with code.
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func wireError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeDeadlineExceeded, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCanceled, Message: err.Error()}
	}
	return &Error{Message: err.Error()}
}

func writeFrame(w io.Writer, m *message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	n := len(b)
	if m.Data != nil {
		n += 4 + len(m.Data)
	}
	if n > maxFrame {
		return fmt.Errorf("rpc: message of %d bytes is over the limit of %d", n, maxFrame)
	}
	if m.Data == nil {
		frame := make([]byte, 4+len(b))
		binary.BigEndian.PutUint32(frame, uint32(n))
		copy(frame[4:], b)
		_, err = w.Write(frame) // one write: frames of concurrent calls never interleave
		return err
	}
	hdr := make([]byte, 8, 8+len(b))
	binary.BigEndian.PutUint32(hdr, uint32(n)|dataFlag)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(b)))
	bufs := net.Buffers{append(hdr, b...), m.Data}
	_, err = bufs.WriteTo(w) // one writev, under the caller's write lock
	return err
}

func readFrame(r *bufio.Reader, m *message) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	withData := n&dataFlag != 0
	n &^= dataFlag
	if n > maxFrame {
		return fmt.Errorf("rpc: message of %d bytes is over the limit of %d", n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	*m = message{}
	var data []byte
	if withData {
		if n < 4 || binary.BigEndian.Uint32(b) > n-4 {
			return errors.New("rpc: malformed frame")
		}
		jn := binary.BigEndian.Uint32(b)
		b, data = b[4:4+jn], b[4+jn:]
	}
	if err := json.Unmarshal(b, m); err != nil {
		return err
	}
	if withData {
		m.Data = data
	}
	return nil
}

// Handler serves one request. A request's context ends with the caller's
// deadline or with its connection; Send sends events on it.
type Handler func(ctx context.Context, method string, params json.RawMessage) (result any, err error)

type senderKey struct{}

type dataKey struct{}

// Data is the bulk bytes of the request whose context ctx is (see
// CallData), or nil.
func Data(ctx context.Context) []byte {
	b, _ := ctx.Value(dataKey{}).([]byte)
	return b
}

// Send sends v to the caller of the request whose context ctx is, as an
// event before the reply (see CallStream). Events arrive in the order sent.
func Send(ctx context.Context, v any) error {
	send, ok := ctx.Value(senderKey{}).(func(any) error)
	if !ok {
		return errors.New("rpc: Send outside a request")
	}
	return send(v)
}

// ErrServerClosed is what Serve returns once Close was called.
var ErrServerClosed = errors.New("rpc: server closed")

// Server serves a Handler on listeners.
type Server struct {
	handler Handler

	mu       sync.Mutex
	closed   bool
	lns      map[net.Listener]struct{}
	conns    map[net.Conn]struct{}
	inFlight int           // requests being handled
	idle     chan struct{} // closed when closed and none are in flight
}

// NewServer returns a Server calling h for every request.
func NewServer(h Handler) *Server {
	return &Server{handler: h, lns: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections on ln until ln fails or Close is called.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, nil) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln, nil)
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			return err
		}
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	if !s.track(nil, c) {
		c.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		c.Close()
		s.untrack(nil, c)
	}()
	var wmu sync.Mutex
	r := bufio.NewReader(c)
	for {
		var m message
		if err := readFrame(r, &m); err != nil {
			return
		}
		if !s.begin() {
			return // shutting down: no new requests
		}
		go func() {
			defer s.end()
			rctx := ctx
			if m.Timeout > 0 {
				var cancel context.CancelFunc
				rctx, cancel = context.WithTimeout(ctx, time.Duration(m.Timeout))
				defer cancel()
			}
			if m.Data != nil {
				rctx = context.WithValue(rctx, dataKey{}, m.Data)
			}
			rctx = context.WithValue(rctx, senderKey{}, func(v any) error {
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				wmu.Lock()
				defer wmu.Unlock()
				return writeFrame(c, &message{ID: m.ID, Event: b})
			})
			reply := message{ID: m.ID}
			res, err := s.handler(rctx, m.Method, m.Params)
			if err == nil {
				reply.Result, err = json.Marshal(res)
			}
			if err != nil {
				reply.Result, reply.Error = nil, wireError(err)
			}
			wmu.Lock()
			defer wmu.Unlock()
			_ = writeFrame(c, &reply) // a failed write ends the read loop too
		}()
	}
}

func (s *Server) track(ln net.Listener, c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if ln != nil {
		s.lns[ln] = struct{}{}
	}
	if c != nil {
		s.conns[c] = struct{}{}
	}
	return true
}

func (s *Server) untrack(ln net.Listener, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.lns, ln)
	delete(s.conns, c)
}

func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inFlight++
	return true
}

func (s *Server) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.closed && s.inFlight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting connections and requests, waits for the
// requests under way to be answered (or for ctx to end: ctx's error), then
// closes the connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	var idle chan struct{}
	if s.inFlight > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()
	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.Close()
	return err
}

// Close closes the listeners and every connection; calls under way get no
// reply.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	return nil
}

// ErrClosed is the error of calls on a connection that is gone: closed by
// either side, or broken.
var ErrClosed = errors.New("rpc: connection closed")

// Client calls a Server over one connection. It is safe for concurrent
// use; a call waiting for its reply does not hold up the others.
type Client struct {
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*call
	err     error         // why the connection is gone
	done    chan struct{} // closed with err set
}

// call is a request waiting for its reply.
type call struct {
	reply    chan *message
	onEvent  func(json.RawMessage) error // nil: events are dropped
	eventErr error                       // the first onEvent error
}

// NewClient returns a Client on conn, which it owns from now on.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: conn, pending: map[uint64]*call{}, done: make(chan struct{})}
	go c.read()
	return c
}

func (c *Client) read() {
	r := bufio.NewReader(c.conn)
	for {
		m := new(message)
		if err := readFrame(r, m); err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		cl := c.pending[m.ID]
		if m.Event == nil {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		switch {
		case cl == nil:
		case m.Event != nil:
			// On this goroutine: events keep their order, and a slow
			// consumer holds the connection back rather than piling
			// events up in memory.
			if cl.onEvent != nil && cl.eventErr == nil {
				cl.eventErr = cl.onEvent(m.Event)
			}
		default:
			cl.reply <- m
		}
	}
}

// fail ends the connection for good, with cause.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = fmt.Errorf("%w: %v", ErrClosed, cause)
		close(c.done)
	}
	c.mu.Unlock()
	c.conn.Close()
}

// Call sends method with params and decodes the reply into result (unless
// nil). An error the handler returned is an *Error; a connection that is
// gone, ErrClosed; a done ctx, its error (the call may still take effect).
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	return c.call(ctx, method, params, nil, result, nil)
}

// CallData is Call with bulk bytes, which the handler gets with Data.
func (c *Client) CallData(ctx context.Context, method string, params any, data []byte, result any) error {
	if data == nil {
		data = []byte{}
	}
	return c.call(ctx, method, params, data, result, nil)
}

// CallStream is Call, with onEvent called for each event the handler sends
// before its reply, in order, on the goroutine reading the connection. The
// first error onEvent returns ends the events given to it and is returned
// once the reply has come.
func (c *Client) CallStream(ctx context.Context, method string, params, result any, onEvent func(json.RawMessage) error) error {
	return c.call(ctx, method, params, nil, result, onEvent)
}

func (c *Client) call(ctx context.Context, method string, params any, data []byte, result any, onEvent func(json.RawMessage) error) error {
	m := &message{Method: method, Data: data}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return err
		}
		m.Params = b
	}
	if dl, ok := ctx.Deadline(); ok {
		if m.Timeout = int64(time.Until(dl)); m.Timeout <= 0 {
			return context.DeadlineExceeded
		}
	}
	cl := &call{reply: make(chan *message, 1), onEvent: onEvent}
	ch := cl.reply
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.next++
	m.ID = c.next
	c.pending[m.ID] = cl
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, m.ID)
		c.mu.Unlock()
	}

	c.wmu.Lock()
	err := writeFrame(c.conn, m)
	c.wmu.Unlock()
	if err != nil {
		forget()
		c.fail(err)
		return c.closedErr()
	}
	var reply *message
	select {
	case reply = <-ch:
	case <-c.done:
		select {
		case reply = <-ch: // arrived as the connection went
		default:
			return c.closedErr()
		}
	case <-ctx.Done():
		forget()
		return ctx.Err()
	}
	if reply.Error != nil {
		return reply.Error
	}
	// The events came before the reply, on the goroutine that handed it.
	if cl.eventErr != nil {
		return cl.eventErr
	}
	if result != nil && len(reply.Result) > 0 {
		return json.Unmarshal(reply.Result, result)
	}
	return nil
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection; calls under way fail with ErrClosed.
func (c *Client) Close() error {
	c.fail(errors.New("closed by the client"))
	return nil
}
