package attach

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	for _, f := range []struct {
		typ byte
		p   string
	}{{Stdout, "hello"}, {Stdin, ""}, {Exit, string(ExitPayload(-1))}} {
		if err := WriteFrame(&b, f.typ, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2)
	for _, want := range []struct {
		typ byte
		p   string
	}{{Stdout, "hello"}, {Stdin, ""}, {Exit, string(ExitPayload(-1))}} {
		typ, p, err := ReadFrame(&b, buf)
		if err != nil || typ != want.typ || string(p) != want.p {
			t.Fatalf("frame %d %q %v, want %d %q", typ, p, err, want.typ, want.p)
		}
	}
	if _, _, err := ReadFrame(&b, buf); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader([]byte{1, 0, 0, 0, 5, 'a'}), nil); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader([]byte{1, 0xff, 0, 0, 0}), nil); err == nil {
		t.Fatal("oversized frame accepted")
	}
	w, h, ok := ParseResize(ResizePayload(80, 24))
	if !ok || w != 80 || h != 24 {
		t.Fatalf("resize %d %d %v", w, h, ok)
	}
}

// fakeShim answers one session: it echoes stdin to stdout (upper case) and
// stderr, reports resizes, and exits with code 9 once stdin is closed.
func fakeShim(t *testing.T, conn net.Conn, resized chan<- [2]uint32) {
	defer conn.Close()
	buf := make([]byte, 1024)
	// The resize travels independently of stdin: exit only once both the
	// stdin close and the resize have arrived.
	gotResize, gotClose := false, false
	for {
		typ, p, err := ReadFrame(conn, buf)
		if err != nil {
			return
		}
		switch typ {
		case Stdin:
			WriteFrame(conn, Stdout, bytes.ToUpper(p))
			WriteFrame(conn, Stderr, p)
		case Resize:
			w, h, _ := ParseResize(p)
			resized <- [2]uint32{w, h}
			gotResize = true
		case CloseStdin:
			gotClose = true
		}
		if gotClose && gotResize {
			WriteFrame(conn, Exit, ExitPayload(9))
			return
		}
	}
}

func TestSession(t *testing.T) {
	a, b := net.Pipe()
	resized := make(chan [2]uint32, 1)
	go fakeShim(t, b, resized)
	rz := make(chan [2]uint32, 1)
	rz <- [2]uint32{120, 30}
	var out, errb bytes.Buffer
	r, err := Session(context.Background(), a, Streams{
		Stdin: strings.NewReader("abc"), Stdout: &out, Stderr: &errb, Resize: rz,
	})
	if err != nil || !r.Exited || r.ExitCode != 9 {
		t.Fatalf("result %+v %v", r, err)
	}
	if out.String() != "ABC" || errb.String() != "abc" {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
	select {
	case sz := <-resized:
		if sz != [2]uint32{120, 30} {
			t.Fatalf("resize %v", sz)
		}
	case <-time.After(time.Second):
		t.Fatal("no resize")
	}
}

func TestSessionDetachAndEOF(t *testing.T) {
	// ctx cancelled: a detach.
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := Session(ctx, a, Streams{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("detach: %v", err)
	}
	// The shim closes without an exit frame.
	a, b = net.Pipe()
	b.Close()
	if r, err := Session(context.Background(), a, Streams{}); err != nil || r.Exited {
		t.Fatalf("eof: %+v %v", r, err)
	}
}

func TestLongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "attach.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			WriteFrame(c, Attached, nil)
			WriteFrame(c, Exit, ExitPayload(3))
			c.Close()
		}
	}()
	r, err := Attach(context.Background(), path, Streams{})
	if err != nil || !r.Exited || r.ExitCode != 3 {
		t.Fatalf("attach: %+v %v", r, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v", fi, err)
	}
	// Listen replaces a stale socket file.
	l.Close()
	l2, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}
