package sockredirect

import (
	"io"
	"net"
	"os"
	"strconv"
	"testing"
)

// A connect() to 127.0.0.1 on a redirected port reaches the address it is
// redirected to; other ports, and the port once deleted, are left alone.
func TestRedirect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (BPF)")
	}
	root := CgroupRoot()
	if root == "" {
		t.Skip("no cgroup v2 hierarchy")
	}
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	serve := func(reply string) *net.TCPListener {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(reply))
				c.Close()
			}
		}()
		return ln
	}
	target := serve("target")
	published := serve("published") // answers where nothing is redirected
	port := published.Addr().(*net.TCPAddr).Port
	get := func() string {
		c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := get(); got != "published" {
		t.Fatalf("before Set: %q", got)
	}
	if err := r.Set(port, net.IPv4(127, 0, 0, 1), target.Addr().(*net.TCPAddr).Port); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "target" {
		t.Fatalf("redirected: %q, want target", got)
	}
	if err := r.Delete(port); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(port); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if got := get(); got != "published" {
		t.Fatalf("after Delete: %q", got)
	}
}
