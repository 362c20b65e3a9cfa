package daemon

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hand sends f for upload id over socket and returns the daemon's reply.
func hand(t *testing.T, socket, id string, f *os.File) string {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte(id), unix.UnixRights(int(f.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(reply)
}

func TestUploadFDs(t *testing.T) {
	dir := t.TempDir()
	u := newUploads()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "upload.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go u.serveFDs(l)
	socket := l.Addr().String()

	path := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(path, []byte("the layer's bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if got := hand(t, socket, "no-such-upload", f); !strings.Contains(got, "no upload") {
		t.Errorf("unknown upload: reply %q", got)
	}
	id := u.open()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if got := hand(t, socket, id, pr); !strings.Contains(got, "regular file") {
		t.Errorf("a pipe handed over: reply %q", got)
	}
	if got := hand(t, socket, id, f); got != "ok" {
		t.Fatalf("a file handed over: reply %q", got)
	}
	if got := hand(t, socket, id, f); !strings.Contains(got, "already") {
		t.Errorf("a second file for the upload: reply %q", got)
	}
	r, done, err := u.reader(id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	done(err)
	if err != nil || string(b) != "the layer's bytes" {
		t.Fatalf("read %q, %v", b, err)
	}
	// The daemon's reads moved the client's offset: that is its progress.
	if off, _ := f.Seek(0, io.SeekCurrent); off != int64(len(b)) {
		t.Errorf("client's offset %d, want %d", off, len(b))
	}
	if _, err := u.get(id); err == nil {
		t.Error("the upload outlived its consumer")
	}

	// A file handed over for an upload nobody consumes is closed with it.
	fds := func() int { es, _ := os.ReadDir("/proc/self/fd"); return len(es) }
	before := fds()
	id2 := u.open()
	if got := hand(t, socket, id2, f); got != "ok" {
		t.Fatalf("a file handed over: reply %q", got)
	}
	if fds() != before+1 {
		t.Fatalf("descriptors %d -> %d after a handover, want one more", before, fds())
	}
	u.remove(id2)
	if n := fds(); n != before {
		t.Errorf("descriptors %d -> %d after the upload went, want none left", before, n)
	}
}
