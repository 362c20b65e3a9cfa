package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/ctrd/ctrd/rpc"
)

// Method serves one call of a method: it decodes params itself.
type Method func(ctx context.Context, params json.RawMessage) (any, error)

// Interceptor wraps every call: name is the method's full name
// (/ctrd.v1.Service/Method).
type Interceptor func(ctx context.Context, name string, call Method, params json.RawMessage) (any, error)

// Server serves the registered services on listeners.
type Server struct {
	intercept Interceptor
	methods   map[string]Method
	srv       *rpc.Server
}

// NewServer returns a Server whose calls go through intercept (if not nil).
func NewServer(intercept Interceptor) *Server {
	s := &Server{intercept: intercept, methods: map[string]Method{}}
	s.srv = rpc.NewServer(s.handle)
	return s
}

func (s *Server) register(name string, m Method) { s.methods[name] = m }

func (s *Server) handle(ctx context.Context, name string, params json.RawMessage) (any, error) {
	m, ok := s.methods[name]
	if !ok {
		return nil, rpc.Errorf(CodeUnimplemented, "method %s is not served by this ctrd", name)
	}
	if s.intercept != nil {
		return s.intercept(ctx, name, m, params)
	}
	return m(ctx, params)
}

// Serve accepts connections on ln until it fails or Close is called
// (rpc.ErrServerClosed).
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Close stops serving: listeners and connections are closed.
func (s *Server) Close() error { return s.srv.Close() }

// CodeUnimplemented is the code of a call to a method the daemon lacks.
const CodeUnimplemented = "unimplemented"

func decode(params json.RawMessage, req any) error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	if err := json.Unmarshal(params, req); err != nil {
		return rpc.Errorf(CodeInvalidRequest, "malformed request: %v", err)
	}
	return nil
}

// CodeInvalidRequest is the code of a request that could not be decoded.
const CodeInvalidRequest = "invalid_request"

// bulky is a request whose bulk bytes travel beside its JSON (see
// rpc.CallData).
type bulky interface {
	bulk() []byte
	setBulk([]byte)
}

// handle makes a Method of a service's unary method.
func handle[Req, Resp any](f func(context.Context, *Req) (*Resp, error)) Method {
	return func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Req)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		if b, ok := any(req).(bulky); ok {
			b.setBulk(rpc.Data(ctx))
		}
		return f(ctx, req)
	}
}

// handleStream makes a Method of a service's streaming method: its events
// go out as rpc events, and its reply is empty.
func handleStream[Req, Ev any, Srv interface{ Send(*Ev) error }](f func(context.Context, *Req, Srv) error) Method {
	return func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Req)
		if err := decode(params, req); err != nil {
			return nil, err
		}
		var srv any = sender[*Ev]{ctx}
		return &Empty{}, f(ctx, req, srv.(Srv))
	}
}

// call makes a unary call of method.
func call[Resp any](ctx context.Context, c *rpc.Client, method string, req any) (*Resp, error) {
	resp := new(Resp)
	var err error
	if b, ok := req.(bulky); ok {
		err = c.CallData(ctx, method, req, b.bulk(), resp)
	} else {
		err = c.Call(ctx, method, req, resp)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// sender sends a streaming call's events.
type sender[E any] struct{ ctx context.Context }

func (s sender[E]) Send(ev E) error { return rpc.Send(s.ctx, ev) }

// receiver hands a streaming call's events to Recv as they come.
type receiver[E any] struct {
	events chan *E
	mu     sync.Mutex
	err    error // the call's end: io.EOF or its error
	done   chan struct{}
}

// receive starts a streaming call of method.
func receive[E any](ctx context.Context, c *rpc.Client, method string, req any) *receiver[E] {
	r := &receiver[E]{events: make(chan *E), done: make(chan struct{})}
	go func() {
		err := c.CallStream(ctx, method, req, nil, func(raw json.RawMessage) error {
			ev := new(E)
			if err := json.Unmarshal(raw, ev); err != nil {
				return fmt.Errorf("malformed event of %s: %w", method, err)
			}
			select {
			case r.events <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err == nil {
			err = io.EOF
		}
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(r.done)
	}()
	return r
}

// Recv returns the next event, or io.EOF after the last one, or the
// call's error.
func (r *receiver[E]) Recv() (*E, error) {
	select {
	case ev := <-r.events:
		return ev, nil
	case <-r.done:
		r.mu.Lock()
		defer r.mu.Unlock()
		return nil, r.err
	}
}

// Shutdown stops taking calls and waits for those under way (see
// rpc.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
