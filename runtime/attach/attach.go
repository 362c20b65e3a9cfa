// Package attach is the wire protocol between a runtime shim and the clients
// attached to one of its processes, and the client side of it.
//
// A shim listens on one unix socket per process (see runtime/shim). Every
// byte in both directions is framed as
//
//	type (1 byte) | length (4 bytes, big endian) | payload (length bytes)
//
// Client to shim: Stdin (data), Resize (8 bytes: width, height as big-endian
// uint32), CloseStdin (empty). Shim to client: Stdout and Stderr (data; a
// tty process only sends Stdout), and Exit (4 bytes: big-endian int32 exit
// code) once the process exited and its output is drained, after which the
// shim closes the connection. A client connecting after the exit receives
// Exit at once. Output is delivered from the moment a client connects; it is
// never replayed.
//
// The package is pure Go so that the CLI can attach without cgo.
package attach

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Frame types.
const (
	Stdin      byte = 0
	Stdout     byte = 1
	Stderr     byte = 2
	Resize     byte = 3
	CloseStdin byte = 4
	Exit       byte = 5
	// Attached is the first frame a shim sends: the client is registered,
	// and output produced from now on reaches it. Dial waits for it, so a
	// caller can start a held process right after Dial without losing its
	// first output.
	Attached byte = 6
)

// MaxPayload bounds a frame's payload; larger frames are a protocol error.
const MaxPayload = 1 << 20

const headerLen = 5

// AppendFrame appends one encoded frame to b.
func AppendFrame(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(payload)))
	return append(b, payload...)
}

// WriteFrame writes one frame to w in a single Write call.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	_, err := w.Write(AppendFrame(make([]byte, 0, headerLen+len(payload)), typ, payload))
	return err
}

// ReadFrame reads one frame from r. The payload is read into buf when it
// fits, so it is only valid until the next call with the same buf.
func ReadFrame(r io.Reader, buf []byte) (typ byte, payload []byte, err error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxPayload {
		return 0, nil, fmt.Errorf("attach: frame of %d bytes exceeds limit", n)
	}
	if int(n) <= cap(buf) {
		payload = buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], payload, nil
}

// ResizePayload encodes a Resize frame's payload.
func ResizePayload(width, height uint32) []byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], width)
	binary.BigEndian.PutUint32(b[4:], height)
	return b[:]
}

// ParseResize decodes a Resize frame's payload.
func ParseResize(p []byte) (width, height uint32, ok bool) {
	if len(p) != 8 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(p[:4]), binary.BigEndian.Uint32(p[4:]), true
}

// ExitPayload encodes an Exit frame's payload.
func ExitPayload(code int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return b[:]
}

// Streams are the local ends of an attach session. Any field may be nil:
// a nil Stdin sends nothing (the process's stdin stays open), nil writers
// discard that output.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr receives the process's stderr; a tty process has none.
	Stderr io.Writer
	// Resize carries terminal sizes (width, height) to apply to the
	// process's pty.
	Resize <-chan [2]uint32
	// KeepStdinOpen, when set, does not close the process's stdin when
	// Stdin reaches EOF (Docker's behaviour without StdinOnce).
	KeepStdinOpen bool
}

// Result tells how an attach session ended.
type Result struct {
	// Exited is set when the process exited; ExitCode is then its exit
	// code (128+n for a death by signal n).
	Exited   bool
	ExitCode int
}

// Attach connects to the attach socket of a process and copies its streams
// until the process's output ends (Result.Exited tells whether it exited)
// or ctx is cancelled (a detach: the process keeps running; ctx.Err() is
// returned). A goroutine blocked reading s.Stdin is left behind, as a
// Read cannot be interrupted; it ends with its next Read.
func Attach(ctx context.Context, socketPath string, s Streams) (Result, error) {
	conn, err := Dial(ctx, socketPath)
	if err != nil {
		return Result{}, fmt.Errorf("attach: %w", err)
	}
	return Session(ctx, conn, s)
}

// Session runs the client side of the protocol on an established
// connection, as Attach does, and closes it when done.
func Session(ctx context.Context, conn net.Conn, s Streams) (Result, error) {
	var (
		wmu    sync.Mutex
		done   = make(chan struct{})
		closer sync.Once
	)
	shut := func() { closer.Do(func() { close(done); conn.Close() }) }
	defer shut()
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return WriteFrame(conn, typ, p)
	}

	go func() {
		select {
		case <-ctx.Done():
			shut()
		case <-done:
		}
	}()
	if s.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case sz, ok := <-s.Resize:
					if !ok {
						return
					}
					if send(Resize, ResizePayload(sz[0], sz[1])) != nil {
						return
					}
				}
			}
		}()
	}
	if s.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := s.Stdin.Read(buf)
				select {
				case <-done:
					return
				default:
				}
				if n > 0 {
					if send(Stdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					if !s.KeepStdinOpen {
						_ = send(CloseStdin, nil)
					}
					return
				}
			}
		}()
	}

	buf := make([]byte, 64*1024)
	for {
		typ, p, err := ReadFrame(conn, buf)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return Result{}, nil
			}
			return Result{}, fmt.Errorf("attach: %w", err)
		}
		switch typ {
		case Stdout, Stderr:
			w := s.Stdout
			if typ == Stderr {
				w = s.Stderr
			}
			if w != nil {
				if _, err := w.Write(p); err != nil {
					return Result{}, fmt.Errorf("attach: writing output: %w", err)
				}
			}
		case Exit:
			if len(p) != 4 {
				return Result{}, errors.New("attach: malformed exit frame")
			}
			return Result{Exited: true, ExitCode: int(int32(binary.BigEndian.Uint32(p)))}, nil
		}
	}
}
