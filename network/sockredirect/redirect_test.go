package sockredirect

import (
	"io"
	"net"
	"os"
	"strconv"
	"testing"
)

// A connect() to one of the host's addresses on a redirected port reaches
// the address it is redirected to: a port published on every address from
// any of them, one published on an address from that address only. Other
// ports, and ports once deleted, are left alone.
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

	// Servers on 127.0.0.1 and 127.0.0.2 answer with their own name: the
	// "published" port answers where nothing is redirected.
	serve := func(ip net.IP, port int, reply string) int {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: ip, Port: port})
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
		return ln.Addr().(*net.TCPAddr).Port
	}
	lo1, lo2 := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)
	target := serve(lo1, 0, "target")
	published := serve(lo1, 0, "published")
	serve(lo2, published, "published on .2")
	get := func(ip net.IP) string {
		c, err := net.Dial("tcp4", net.JoinHostPort(ip.String(), strconv.Itoa(published)))
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	check := func(when string, want1, want2 string) {
		t.Helper()
		if got := get(lo1); got != want1 {
			t.Errorf("%s: via 127.0.0.1: %q, want %q", when, got, want1)
		}
		if got := get(lo2); got != want2 {
			t.Errorf("%s: via 127.0.0.2: %q, want %q", when, got, want2)
		}
	}
	check("nothing set", "published", "published on .2")

	// Published on 127.0.0.1 only.
	if err := r.Set(published, lo1, lo1, target); err != nil {
		t.Fatal(err)
	}
	check("on 127.0.0.1", "target", "published on .2")
	if err := r.Delete(published, lo1); err != nil {
		t.Fatal(err)
	}
	// Published on every address.
	if err := r.Set(published, nil, lo1, target); err != nil {
		t.Fatal(err)
	}
	check("on every address", "target", "target")
	if err := r.Delete(published, net.IPv4zero); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(published, nil); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	check("deleted", "published", "published on .2")

	if err := r.SetLocalAddrs([]net.IP{net.IPv4(192, 0, 2, 1), net.IPv4(192, 0, 2, 2)}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetLocalAddrs([]net.IP{net.IPv4(192, 0, 2, 2)}); err != nil {
		t.Fatal(err)
	}
	var n int
	var k [4]byte
	var v uint8
	for it := r.locals.Iterate(); it.Next(&k, &v); n++ {
		if k != [4]byte{192, 0, 2, 2} {
			t.Errorf("local address %v left", k)
		}
	}
	if n != 1 {
		t.Errorf("%d local addresses, want 1", n)
	}
}
