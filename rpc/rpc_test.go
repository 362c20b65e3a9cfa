package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type pair struct {
	A, B int
}

// serve starts a Server with h on a unix socket and returns a client of
// it.
func serve(t *testing.T, h Handler) (*Server, *Client, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return srv, dial(t, sock), sock
}

func dial(t *testing.T, sock string) *Client {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// Calls carry their params and results; handler errors come back with
// their code, other errors as their message.
func TestCall(t *testing.T) {
	_, c, _ := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		var p pair
		if len(params) > 0 {
			if err := json.Unmarshal(params, &p); err != nil {
				return nil, err
			}
		}
		switch method {
		case "Sum":
			return p.A + p.B, nil
		case "Nothing":
			return nil, nil
		case "Missing":
			return nil, Errorf("not_found", "exec %q: not found", "x")
		case "Plain":
			return nil, errors.New("plain failure")
		}
		return nil, Errorf("unknown_method", "no method %s", method)
	})
	ctx := context.Background()
	var sum int
	if err := c.Call(ctx, "Sum", pair{2, 40}, &sum); err != nil || sum != 42 {
		t.Fatalf("Sum = %d, %v", sum, err)
	}
	if err := c.Call(ctx, "Nothing", nil, nil); err != nil {
		t.Fatalf("Nothing = %v", err)
	}
	var e *Error
	err := c.Call(ctx, "Missing", nil, nil)
	if !errors.As(err, &e) || e.Code != "not_found" || e.Message != `exec "x": not found` {
		t.Fatalf("Missing = %#v", err)
	}
	err = c.Call(ctx, "Plain", nil, nil)
	if !errors.As(err, &e) || e.Code != "" || e.Message != "plain failure" {
		t.Fatalf("Plain = %#v", err)
	}
	if err := c.Call(ctx, "Sum", make(chan int), nil); err == nil {
		t.Fatal("params that cannot be encoded: no error")
	}
}

// A call waiting for its reply holds up none of the others on the same
// connection, and each reply reaches its own caller.
func TestConcurrentCalls(t *testing.T) {
	release := make(chan struct{})
	_, c, _ := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		var n int
		json.Unmarshal(params, &n)
		if method == "Block" {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return n * 2, nil
	})
	ctx := context.Background()
	blocked := make(chan error, 1)
	go func() {
		var r int
		err := c.Call(ctx, "Block", 7, &r)
		if err == nil && r != 14 {
			err = fmt.Errorf("Block = %d", r)
		}
		blocked <- err
	}()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r int
			if err := c.Call(ctx, "Double", i, &r); err != nil || r != 2*i {
				t.Errorf("Double(%d) = %d, %v", i, r, err)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-blocked:
		t.Fatalf("the blocked call returned early: %v", err)
	default:
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
}

// The caller's deadline bounds the handler's context; a cancelled call
// returns at once and leaves the connection usable.
func TestDeadlineAndCancel(t *testing.T) {
	_, c, _ := serve(t, func(ctx context.Context, method string, _ json.RawMessage) (any, error) {
		switch method {
		case "Deadline":
			dl, ok := ctx.Deadline()
			if !ok {
				return nil, errors.New("no deadline")
			}
			return time.Until(dl) > 0, nil
		case "Block":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return "pong", nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ok bool
	if err := c.Call(ctx, "Deadline", nil, &ok); err != nil || !ok {
		t.Fatalf("Deadline = %v, %v", ok, err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := c.Call(short, "Block", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Block past its deadline = %v", err)
	}
	cctx, cancelNow := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancelNow)
	if err := c.Call(cctx, "Block", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Block = %v", err)
	}
	var s string
	if err := c.Call(context.Background(), "Ping", nil, &s); err != nil || s != "pong" {
		t.Fatalf("Ping after cancelled calls = %q, %v", s, err)
	}
}

// When the connection goes (the server closes, or the client), calls
// under way and later ones fail with ErrClosed instead of hanging.
func TestConnectionGone(t *testing.T) {
	started := make(chan struct{}, 1)
	srv, c, sock := serve(t, func(ctx context.Context, method string, _ json.RawMessage) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	waiting := make(chan error, 1)
	go func() { waiting <- c.Call(context.Background(), "Wait", nil, nil) }()
	<-started
	srv.Close()
	select {
	case err := <-waiting:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("call under way when the server closed = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call under way hung after the server closed")
	}
	if err := c.Call(context.Background(), "Wait", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after the server closed = %v", err)
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Fatal("the listener still accepts after Close")
	}

	_, c2, _ := serve(t, func(ctx context.Context, method string, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	go func() { waiting <- c2.Call(context.Background(), "Wait", nil, nil) }()
	time.Sleep(20 * time.Millisecond)
	c2.Close()
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("call under way when the client closed = %v", err)
	}
}

// A frame over the size limit ends the connection instead of being
// allocated.
func TestOversizedFrame(t *testing.T) {
	_, _, sock := serve(t, func(ctx context.Context, method string, _ json.RawMessage) (any, error) {
		return "pong", nil
	})
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], maxFrame+1)
	if _, err := conn.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m message
	if err := readFrame(bufio.NewReader(conn), &m); err == nil {
		t.Fatalf("the server answered an oversized frame: %+v", m)
	} else if isTimeout(err) {
		t.Fatal("the server kept the connection open after an oversized frame")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A handler's events reach the caller in order and before the reply, and
// concurrent streams on one connection keep apart; the first error of the
// caller's event function is the call's.
func TestCallStream(t *testing.T) {
	_, c, _ := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		var n int
		if err := json.Unmarshal(params, &n); err != nil {
			return nil, err
		}
		for i := range n {
			if err := Send(ctx, i); err != nil {
				return nil, err
			}
		}
		return n, nil
	})
	var wg sync.WaitGroup
	for k := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 200 + k
			var got []int
			var res int
			err := c.CallStream(ctx(t), "count", n, &res, func(ev json.RawMessage) error {
				var i int
				if err := json.Unmarshal(ev, &i); err != nil {
					return err
				}
				got = append(got, i)
				return nil
			})
			if err != nil || res != n || len(got) != n {
				t.Errorf("stream of %d: result %d, %d events, err %v", n, res, len(got), err)
				return
			}
			for i, v := range got {
				if v != i {
					t.Errorf("stream of %d: event %d is %d", n, i, v)
					return
				}
			}
		}()
	}
	wg.Wait()

	stop := errors.New("enough")
	calls := 0
	err := c.CallStream(ctx(t), "count", 10, nil, func(json.RawMessage) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("event error: err %v after %d calls, want %v after 1", err, calls, stop)
	}
	// Plain calls drop the events.
	var res int
	if err := c.Call(ctx(t), "count", 3, &res); err != nil || res != 3 {
		t.Errorf("Call of a streaming method: %d, %v", res, err)
	}
	if err := Send(context.Background(), 1); err == nil {
		t.Error("Send outside a request succeeded")
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// Shutdown lets the calls under way finish and answer, and takes no more.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	srv, c, sock := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		if method == "slow" {
			close(started)
			<-release
		}
		return "done", nil
	})
	res := make(chan error, 1)
	go func() {
		var s string
		err := c.Call(ctx(t), "slow", nil, &s)
		if err == nil && s != "done" {
			err = fmt.Errorf("result %q", s)
		}
		res <- err
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx(t)) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a call under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	if conn, err := net.Dial("unix", sock); err == nil {
		conn.Close()
		t.Error("a new connection was accepted during Shutdown")
	}
	close(release)
	if err := <-res; err != nil {
		t.Errorf("call under way: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := c.Call(ctx(t), "fast", nil, nil); err == nil {
		t.Error("a call after Shutdown succeeded")
	}

	// A call that does not end holds Shutdown until its context ends.
	block := make(chan struct{})
	defer close(block)
	srv2, c2, _ := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		<-block
		return nil, nil
	})
	go func() { _ = c2.Call(context.Background(), "stuck", nil, nil) }()
	time.Sleep(50 * time.Millisecond)
	sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv2.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck call = %v, want DeadlineExceeded", err)
	}
}

// Bulk bytes travel beside the params, unencoded, and leave other calls
// on the connection as they were.
func TestCallData(t *testing.T) {
	_, c, _ := serve(t, func(ctx context.Context, method string, params json.RawMessage) (any, error) {
		var p pair
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, err
		}
		d := Data(ctx)
		sum := 0
		for _, b := range d {
			sum += int(b)
		}
		return []int{p.A, len(d), sum, btoi(d != nil)}, nil
	})
	var wg sync.WaitGroup
	for k := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var data []byte
			if k%2 == 0 {
				data = make([]byte, 1<<20+k)
				for i := range data {
					data[i] = byte(i + k)
				}
			}
			want := []int{k, len(data), 0, btoi(k%2 == 0)}
			for _, b := range data {
				want[2] += int(b)
			}
			var got []int
			var err error
			if data != nil {
				err = c.CallData(ctx(t), "sum", pair{A: k}, data, &got)
			} else {
				err = c.Call(ctx(t), "sum", pair{A: k}, &got)
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("call %d: %v, %v; want %v", k, got, err, want)
			}
		}()
	}
	wg.Wait()
	var got []int
	if err := c.CallData(ctx(t), "sum", pair{A: 1}, nil, &got); err != nil || got[3] != 1 || got[1] != 0 {
		t.Errorf("CallData with no bytes: %v, %v", got, err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
