package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	bolt "go.etcd.io/bbolt"
)

// Integration tests create their own bridge, table, namespaces and veths
// with unique names, send traffic only to loopback, those bridges and those
// namespaces, and remove everything in t.Cleanup.

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (netns, veth, nftables)")
	}
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// usedNets lists every IPv4 prefix the host routes or has an address in.
func usedNets(t testing.TB) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 {
				out = append(out, r.Dst)
			}
		}
	}
	addrs, _ := netlink.AddrList(nil, netlink.FAMILY_V4)
	for _, a := range addrs {
		out = append(out, a.IPNet)
	}
	return out
}

// freeSubnet picks prefix.X.0/bits (bits >= 24) that overlaps nothing on the host.
func freeSubnet(t testing.TB, prefix string, bits int) *net.IPNet {
	t.Helper()
	used := usedNets(t)
	for i := 0; i < 200; i++ {
		third := mrand.IntN(254) + 1
		fourth := 0
		if bits > 24 {
			fourth = mrand.IntN(256>>uint(bits-24)) << uint(32-bits)
		}
		_, n, _ := net.ParseCIDR(fmt.Sprintf("%s.%d.%d/%d", prefix, third, fourth, bits))
		ok := true
		for _, u := range used {
			if netsOverlap(u, n) {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
	}
	t.Fatal("no free subnet")
	return nil
}

func nthIP(n *net.IPNet, i uint32) net.IP { return u32ToIP4(ip4ToU32(n.IP) + i) }

type testEnv struct {
	m      *Manager
	db     *bolt.DB
	cfg    Config
	dbPath string
	subnet *net.IPNet
	gw     net.IP
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	sn := freeSubnet(t, "10.213", 24)
	e := &testEnv{subnet: sn, gw: nthIP(sn, 1), dbPath: filepath.Join(dir, "meta.db")}
	e.cfg = Config{
		Bridge:        "ctrt" + randHex(4),
		BIP:           fmt.Sprintf("%s/24", e.gw),
		ExecRoot:      filepath.Join(dir, "exec"),
		TableName:     "ctrd_test_" + randHex(8),
		DNSHostResolv: "/etc/resolv.conf",
	}
	e.db = openTestDB(t, e.dbPath)
	m, err := New(e.db, e.cfg)
	if err != nil {
		e.db.Close()
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() {
		e.m.teardown()
		e.db.Close()
	})
	return e
}

// restart simulates a daemon crash and restart: a new Manager on the same
// database, nothing cleaned up before.
func (e *testEnv) restart(t *testing.T) {
	t.Helper()
	_ = e.m.Close()
	m, err := New(e.db, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
}

func newNS(t *testing.T, m *Manager) string {
	t.Helper()
	p := m.NetNSPath("t" + randHex(12))
	if err := CreateNetNS(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = RemoveNetNS(p) })
	return p
}

// inNS runs fn on a thread switched into the namespace at path; sockets
// made by fn stay in that namespace.
func inNS(t testing.TB, path string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, e := netns.Get()
		if e != nil {
			err = e
			return
		}
		defer orig.Close()
		target, e := netns.GetFromPath(path)
		if e != nil {
			err = e
			return
		}
		defer target.Close()
		if e := netns.Set(target); e != nil {
			err = e
			return
		}
		fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		} // else the thread dies with the goroutine
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
}

// serveTCP answers every connection on :port in the namespace with reply.
func serveTCP(t *testing.T, ns string, port int, reply string) {
	t.Helper()
	var l net.Listener
	var err error
	inNS(t, ns, func() { l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, reply)
			c.Close()
		}
	}()
}

// serveUDP answers every datagram on :port in the namespace with reply.
func serveUDP(t *testing.T, ns string, port int, reply string) {
	t.Helper()
	var pc net.PacketConn
	var err error
	inNS(t, ns, func() { pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(reply), from)
		}
	}()
}

// tcpGet dials addr from the namespace ns ("" = the host) and reads the reply.
func tcpGet(t *testing.T, ns, addr string) (string, error) {
	t.Helper()
	var c net.Conn
	var err error
	dial := func() { c, err = net.DialTimeout("tcp4", addr, 700*time.Millisecond) }
	if ns == "" {
		dial()
	} else {
		inNS(t, ns, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// udpAsk sends a datagram to addr from the namespace ns and returns the answer.
func udpAsk(t *testing.T, ns, addr string) (string, error) {
	t.Helper()
	var c net.Conn
	var err error
	dial := func() { c, err = net.Dial("udp4", addr) }
	if ns == "" {
		dial()
	} else {
		inNS(t, ns, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte("ping")); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no UDP answer from %s", addr)
}

func expectTCP(t *testing.T, what, ns, addr, want string) {
	t.Helper()
	got, err := tcpGet(t, ns, addr)
	if err != nil || got != want {
		t.Errorf("%s: tcp %s: got %q, %v; want %q", what, addr, got, err, want)
	}
}

func expectUDP(t *testing.T, what, ns, addr, want string) {
	t.Helper()
	got, err := udpAsk(t, ns, addr)
	if err != nil || got != want {
		t.Errorf("%s: udp %s: got %q, %v; want %q", what, addr, got, err, want)
	}
}

// clientHost makes a namespace standing for another machine: connected to
// the host by its own veth pair in a /30 of 10.214/16, default route via
// the host. Returns the namespace and the host's address on that link.
func clientHost(t *testing.T, m *Manager) (ns string, hostIP, clientIP net.IP) {
	t.Helper()
	ns = newNS(t, m)
	sn := freeSubnet(t, "10.214", 30)
	hostIP, clientIP = nthIP(sn, 1), nthIP(sn, 2)
	name := "ctrtc" + randHex(6)
	fd, err := os.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	la := netlink.NewLinkAttrs()
	la.Name, la.Flags = name, net.FlagUp
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd.Fd()))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: sn.Mask}}); err != nil {
		t.Fatal(err)
	}
	err = withNetNSHandle(ns, func(h *netlink.Handle, _ int) error {
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: clientIP, Mask: sn.Mask}}); err != nil {
			return err
		}
		if err := h.LinkSetUp(eth0); err != nil {
			return err
		}
		return h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: hostIP})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ns, hostIP, clientIP
}

// portRuleTags lists the comments of the rules of table/ports, by container.
func portRuleTags(t testing.TB, table string) map[string][]string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(tb, &nftables.Chain{Name: chainPorts, Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rules {
		tag, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		id, _ := tagContainer(tag)
		out[id] = append(out[id], tag)
	}
	return out
}

// ruleCounts counts the rules of every chain of a table.
func ruleCounts(t testing.TB, table string) map[string]int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	out := map[string]int{}
	for _, ch := range []string{"prerouting", "output", "postrouting", "forward", chainPorts} {
		rules, err := c.GetRules(tb, &nftables.Chain{Name: ch, Table: tb})
		if err != nil {
			t.Fatal(err)
		}
		out[ch] = len(rules)
	}
	return out
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func freeHostPort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", p))
		if err == nil {
			u.Close()
			return p
		}
	}
}

func hasLine(content, line string) bool {
	for _, l := range strings.Split(content, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
