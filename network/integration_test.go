package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"
)

// foreignTable creates a table standing for Docker's or the user's, with a
// chain and a rule, and returns a function that fails the test if the
// table changed.
func foreignTable(t *testing.T) func() {
	t.Helper()
	name := "ctrd_foreign_test_" + randHex(6)
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	drop := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "fwd", Table: tb, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DelTable(tb)
		_ = c.Flush()
	})
	list := func() string {
		out, err := exec.Command("nft", "list", "table", "ip", name).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		// the counter moves with traffic: compare everything else
		var keep []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "counter") {
				l = "counter"
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	before := list()
	return func() {
		t.Helper()
		if after := list(); after != before {
			t.Errorf("foreign table changed:\n%s\n--- now ---\n%s", before, after)
		}
	}
}

func TestNetNS(t *testing.T) {
	requireRoot(t)
	p := filepath.Join(t.TempDir(), "netns", "x")
	if err := CreateNetNS(p); err != nil {
		t.Fatal(err)
	}
	defer RemoveNetNS(p)
	if !isNetNS(p) {
		t.Fatal("not a netns mount")
	}
	if err := CreateNetNS(p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v", err)
	}
	err := withNetNSHandle(p, func(h *netlink.Handle, _ int) error {
		links, err := h.LinkList()
		if err != nil {
			return err
		}
		if len(links) != 1 || links[0].Attrs().Name != "lo" || links[0].Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("links: %v", links)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("netns file left: %v", err)
	}
}

// TestPublishedPorts is the main end-to-end check of the bridge network:
// published TCP and UDP ports answer from the host (127.0.0.1, the host's
// address on another link, the bridge address), from a client host, from
// another container and from the publishing container itself (hairpin);
// outbound traffic is masqueraded; unpublished ports are not reachable from
// outside; Detach removes everything.
func TestPublishedPorts(t *testing.T) {
	checkForeign := foreignTable(t)
	e := newTestEnv(t)
	m := e.m
	client, hostIP, clientIP := clientHost(t, m)

	tcpPort, udpPort, localPort := freeHostPort(t), freeHostPort(t), freeHostPort(t)
	ports, err := ParsePortSpecs([]string{
		fmt.Sprintf("%d:80", tcpPort),
		fmt.Sprintf("%d:53/udp", udpPort),
		fmt.Sprintf("127.0.0.1:%d:81", localPort),
	})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := "a"+randHex(20), "b"+randHex(20)
	epA, err := m.Allocate(EndpointOptions{ContainerID: idA, ContainerName: "web", Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Release(idA) })
	epB, err := m.Allocate(EndpointOptions{ContainerID: idB, ContainerName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Release(idB) })
	if epA.IPAddress != nthIP(e.subnet, 2).String() || epB.IPAddress != nthIP(e.subnet, 3).String() {
		t.Errorf("addresses %s %s", epA.IPAddress, epB.IPAddress)
	}
	if epA.Gateway != e.gw.String() || epA.PrefixLen != 24 || epA.Bridge != e.cfg.Bridge || epA.Network != "bridge" {
		t.Errorf("endpoint A: %+v", epA)
	}
	if want := macFromIP(net.ParseIP(epA.IPAddress)).String(); epA.MacAddress != want || !strings.HasPrefix(want, "02:42:0a:d5:") {
		t.Errorf("MAC %s", epA.MacAddress)
	}
	nsA, nsB := newNS(t, m), newNS(t, m)
	t0 := time.Now()
	if err := m.Attach(epA, nsA); err != nil {
		t.Fatal(err)
	}
	t.Logf("attach: %v", time.Since(t0))
	if err := m.Attach(epB, nsB); err != nil {
		t.Fatal(err)
	}
	serveTCP(t, nsA, 80, "hi from A")
	serveTCP(t, nsA, 81, "local only")
	serveUDP(t, nsA, 53, "udp A")

	// eth0 inside: address, MAC, default route
	err = withNetNSHandle(nsA, func(h *netlink.Handle, _ int) error {
		l, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		if l.Attrs().HardwareAddr.String() != epA.MacAddress {
			return fmt.Errorf("eth0 MAC %s", l.Attrs().HardwareAddr)
		}
		rs, err := h.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.Equal(e.gw) {
				return nil
			}
		}
		return fmt.Errorf("no default route via %s: %v", e.gw, rs)
	})
	if err != nil {
		t.Error(err)
	}

	a := func(ip net.IP, port int) string { return net.JoinHostPort(ip.String(), strconv.Itoa(port)) }
	lo := net.IPv4(127, 0, 0, 1)
	expectTCP(t, "host via 127.0.0.1", "", a(lo, tcpPort), "hi from A")
	expectTCP(t, "host via its address on the client link", "", a(hostIP, tcpPort), "hi from A")
	expectTCP(t, "host via the bridge address", "", a(e.gw, tcpPort), "hi from A")
	expectTCP(t, "client host", client, a(hostIP, tcpPort), "hi from A")
	expectTCP(t, "other container via the gateway (hairpin)", nsB, a(e.gw, tcpPort), "hi from A")
	expectTCP(t, "other container via the host's other address", nsB, a(hostIP, tcpPort), "hi from A")
	expectTCP(t, "container to its own published port", nsA, a(e.gw, tcpPort), "hi from A")
	expectTCP(t, "host straight to the container", "", a(net.ParseIP(epA.IPAddress), 80), "hi from A")
	expectTCP(t, "other container straight to A", nsB, a(net.ParseIP(epA.IPAddress), 80), "hi from A")
	expectUDP(t, "udp host via 127.0.0.1", "", a(lo, udpPort), "udp A")
	expectUDP(t, "udp client host", client, a(hostIP, udpPort), "udp A")
	expectUDP(t, "udp other container (hairpin)", nsB, a(e.gw, udpPort), "udp A")
	expectTCP(t, "127.0.0.1-only port from the host", "", a(lo, localPort), "local only")
	if got, err := tcpGet(t, client, a(hostIP, localPort)); err == nil {
		t.Errorf("127.0.0.1-only port answered the client host: %q", got)
	}
	if got, err := tcpGet(t, client, a(net.ParseIP(epA.IPAddress), 80)); err == nil {
		t.Errorf("unpublished container address reachable from the client host: %q", got)
	}

	// outbound: masqueraded to the host's address on the way out
	seen := make(chan string, 1)
	var l net.Listener
	inNS(t, client, func() { l, err = net.Listen("tcp4", a(clientIP, 7777)) })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	if _, err := tcpGet(t, nsB, a(clientIP, 7777)); err != nil {
		t.Errorf("outbound from a container: %v", err)
	} else if src := <-seen; src != hostIP.String() {
		t.Errorf("outbound source %s, want masquerade to %s", src, hostIP)
	}

	// Endpoint() carries what inspect/ps/port need
	got, err := m.Endpoint(idA)
	if err != nil || got.NetNSPath != nsA || len(got.Ports) != 3 || got.IPAddress != epA.IPAddress {
		t.Errorf("Endpoint: %+v %v", got, err)
	}
	if s := got.PortsString(); !strings.Contains(s, fmt.Sprintf("0.0.0.0:%d->80/tcp", tcpPort)) ||
		!strings.Contains(s, fmt.Sprintf("127.0.0.1:%d->81/tcp", localPort)) {
		t.Errorf("PortsString %q", s)
	}
	if n := len(portRuleTags(t, e.cfg.TableName)[idA]); n != 3 {
		t.Errorf("%d rules for A, want 3", n)
	}

	// Detach: veth and rules gone, port no longer answers; twice is fine
	if err := m.Detach(epA); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(epA); err != nil {
		t.Fatalf("second detach: %v", err)
	}
	m.bg.Wait() // the veth is deleted in the background
	if linkExists(epA.HostVeth) {
		t.Error("veth left after Detach")
	}
	if n := len(portRuleTags(t, e.cfg.TableName)[idA]); n != 0 {
		t.Errorf("%d rules left after Detach", n)
	}
	if got, err := tcpGet(t, "", a(lo, tcpPort)); err == nil {
		t.Errorf("port answered after Detach: %q", got)
	}
	// the allocation outlives Detach (a stopped container keeps its ports)
	if _, err := m.Allocate(EndpointOptions{ContainerID: "c" + randHex(8), Ports: ports[:1]}); err == nil ||
		!strings.Contains(err.Error(), "already allocated by container web") {
		t.Errorf("port of a stopped container: %v", err)
	}
	// Release frees address and ports
	if err := m.Release(idA); err != nil {
		t.Fatal(err)
	}
	if err := m.Release(idA); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, err := m.Endpoint(idA); !errors.Is(err, ErrNotFound) {
		t.Errorf("Endpoint after Release: %v", err)
	}
	idC := "c" + randHex(20)
	epC, err := m.Allocate(EndpointOptions{ContainerID: idC, Ports: ports[:1]})
	if err != nil {
		t.Fatalf("port not freed by Release: %v", err)
	}
	if err := m.Release(idC); err != nil {
		t.Fatal(err)
	}
	if epC.IPAddress == epA.IPAddress {
		t.Errorf("released address handed out again at once")
	}
	if err := m.Detach(epB); err != nil {
		t.Fatal(err)
	}
	if rc := ruleCounts(t, e.cfg.TableName); rc[chainPorts] != 0 {
		t.Errorf("rules left: %v", rc)
	}
	checkForeign()
}

func TestPortConflicts(t *testing.T) {
	e := newTestEnv(t)
	m := e.m
	p := freeHostPort(t)
	ports, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", p)})
	idA := "a" + randHex(20)
	if _, err := m.Allocate(EndpointOptions{ContainerID: idA, ContainerName: "/web", Ports: ports}); err != nil {
		t.Fatal(err)
	}
	defer m.Release(idA)

	ipsBefore := countIPs(t, e)
	check := func(what string, o EndpointOptions, want string) {
		t.Helper()
		_, err := m.Allocate(o)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", what, err, want)
		}
		if _, err := m.Endpoint(o.ContainerID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: endpoint left behind: %v", what, err)
		}
		if n := countIPs(t, e); n != ipsBefore {
			t.Errorf("%s: %d addresses held, want %d", what, n, ipsBefore)
		}
	}
	id := func() string { return "x" + randHex(20) }
	check("same port", EndpointOptions{ContainerID: id(), Ports: ports},
		fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated by container web", p))
	local, _ := ParsePortSpecs([]string{fmt.Sprintf("127.0.0.1:%d:80", p)})
	check("127.0.0.1 under 0.0.0.0", EndpointOptions{ContainerID: id(), Ports: local},
		fmt.Sprintf("Bind for 127.0.0.1:%d failed: port is already allocated by container web", p))
	// a good port with a bad one: nothing of the good one stays reserved
	p2 := freeHostPort(t)
	mixed, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:81", p2), fmt.Sprintf("%d:80", p)})
	check("mixed", EndpointOptions{ContainerID: id(), Ports: mixed}, "already allocated by container web")
	if _, err := m.Allocate(EndpointOptions{ContainerID: idA + "2", Ports: mixed[:1]}); err != nil {
		t.Errorf("port %d still reserved after a failed Allocate: %v", p2, err)
	}
	_ = m.Release(idA + "2")
	// udp on the same number is another port
	udp, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80/udp", p)})
	idU := id()
	if _, err := m.Allocate(EndpointOptions{ContainerID: idU, Ports: udp}); err != nil {
		t.Errorf("udp: %v", err)
	}
	_ = m.Release(idU)

	// host processes
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hp := l.Addr().(*net.TCPAddr).Port
	self := fmt.Sprintf("(pid %d)", os.Getpid())
	hostPorts, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", hp)})
	check("host listener", EndpointOptions{ContainerID: id(), Ports: hostPorts}, "port is already in use by process")
	check("host listener names the pid", EndpointOptions{ContainerID: id(), Ports: hostPorts}, self)
	other, _ := ParsePortSpecs([]string{fmt.Sprintf("10.0.0.1:%d:80", hp)})
	_ = other // a listener on 127.0.0.1 does not hold 10.0.0.1:port, but 10.0.0.1 is not ours to test with
	u, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	up := u.LocalAddr().(*net.UDPAddr).Port
	udpHost, _ := ParsePortSpecs([]string{fmt.Sprintf("127.0.0.1:%d:53/udp", up)})
	check("host udp socket", EndpointOptions{ContainerID: id(), Ports: udpHost}, self)

	// -P picks free ephemeral ports, avoiding taken ones
	idP := id()
	ep, err := m.Allocate(EndpointOptions{ContainerID: idP, PublishAll: true, Exposed: []string{"80/tcp", "53/udp", "8080"},
		Ports: ports[:0]})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(idP)
	lo, hi := ephemeralRange()
	if len(ep.Ports) != 3 {
		t.Fatalf("-P ports: %+v", ep.Ports)
	}
	for _, b := range ep.Ports {
		if b.HostPort < lo || b.HostPort > hi || b.HostIP != "0.0.0.0" {
			t.Errorf("-P binding %v", b)
		}
	}
	// -P with an explicit -p for one exposed port keeps the explicit one
	idQ := id()
	p3 := freeHostPort(t)
	exp, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", p3)})
	ep, err = m.Allocate(EndpointOptions{ContainerID: idQ, PublishAll: true, Exposed: []string{"80/tcp", "443/tcp"}, Ports: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release(idQ)
	if len(ep.Ports) != 2 || ep.Ports[0].HostPort != p3 {
		t.Errorf("-P with -p: %+v", ep.Ports)
	}
	// host range: the first free port of it
	rng, _ := ParsePortSpecs([]string{fmt.Sprintf("%d-%d:80", p, p+1)})
	idR := id()
	ep, err = m.Allocate(EndpointOptions{ContainerID: idR, Ports: rng})
	if err == nil {
		defer m.Release(idR)
		if ep.Ports[0].HostPort != p+1 || ep.Ports[0].HostPortEnd != 0 {
			t.Errorf("range: %+v", ep.Ports)
		}
	} else if !strings.Contains(err.Error(), "already") {
		t.Errorf("range: %v", err)
	}

	// bad input
	ipsBefore = countIPs(t, e)
	check("no such network", EndpointOptions{ContainerID: id(), Network: "nosuch"}, "network nosuch not found")
	check("bad dns", EndpointOptions{ContainerID: id(), DNS: []string{"notanip"}}, `invalid --dns "notanip"`)
	check("bad add-host", EndpointOptions{ContainerID: id(), ExtraHosts: []string{"x"}}, "invalid --add-host")

	// host / none: no address, ports discarded with a warning
	idH := id()
	ep, err = m.Allocate(EndpointOptions{ContainerID: idH, Network: "host", Ports: ports})
	if err != nil || ep.IPAddress != "" || len(ep.Ports) != 0 || len(ep.Warnings) != 1 || ep.NeedsNetNS() {
		t.Errorf("host: %+v %v", ep, err)
	}
	_ = m.Release(idH)
	idN := id()
	ep, err = m.Allocate(EndpointOptions{ContainerID: idN, Network: "none"})
	if err != nil || ep.IPAddress != "" || !ep.NeedsNetNS() || ep.UsesBridge() {
		t.Errorf("none: %+v %v", ep, err)
	}
	_ = m.Release(idN)

	// Allocate twice returns the same endpoint
	again, err := m.Allocate(EndpointOptions{ContainerID: idA, Ports: ports})
	if err != nil || again.Ports[0].HostPort != p {
		t.Errorf("second Allocate: %+v %v", again, err)
	}
}

func countIPs(t *testing.T, e *testEnv) int {
	t.Helper()
	nets, err := e.m.Networks()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nw := range nets {
		n += len(nw.Containers)
	}
	return n
}

// TestReconcile simulates a daemon crash: stale rules of a container that
// stopped meanwhile, a missing and a duplicated rule, a stray rule, a stale
// veth and a lost one, then a restart and Reconcile.
func TestReconcile(t *testing.T) {
	checkForeign := foreignTable(t)
	e := newTestEnv(t)
	m := e.m
	base := ruleCounts(t, e.cfg.TableName)
	pa, pb := freeHostPort(t), freeHostPort(t)
	portsA, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", pa), fmt.Sprintf("%d:53/udp", pa)})
	portsB, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", pb)})
	idA, idB := "a"+randHex(20), "b"+randHex(20)
	epA, err := m.Allocate(EndpointOptions{ContainerID: idA, Ports: portsA})
	if err != nil {
		t.Fatal(err)
	}
	epB, err := m.Allocate(EndpointOptions{ContainerID: idB, Ports: portsB})
	if err != nil {
		t.Fatal(err)
	}
	nsA, nsB := newNS(t, m), newNS(t, m)
	for _, x := range []struct {
		ep *Endpoint
		ns string
	}{{epA, nsA}, {epB, nsB}} {
		if err := m.Attach(x.ep, x.ns); err != nil {
			t.Fatal(err)
		}
	}
	serveTCP(t, nsA, 80, "A")

	// the crash: B stopped while ctrd was down; rules tampered with
	rules, err := m.fw.listPortRules()
	if err != nil {
		t.Fatal(err)
	}
	_ = m.fw.queueDelete(rules[idA][:1])                                                           // A misses one rule
	m.fw.queueAddPort(wantedPortRules(epB)[0])                                                     // B has a duplicate
	m.fw.queueAddPort(portRule{tag: "ctrd:ghost x", b: portsB[0], ip: net.ParseIP(epB.IPAddress)}) // stray rule
	if err := m.fw.flush(); err != nil {
		t.Fatal(err)
	}
	m.deleteLink(epA.HostVeth) // A's veth vanished (eth0 went with it)

	e.restart(t)
	m = e.m
	if rc := ruleCounts(t, e.cfg.TableName); rc["prerouting"] != base["prerouting"] || rc["postrouting"] != base["postrouting"] ||
		rc["forward"] != base["forward"] || rc["output"] != base["output"] {
		t.Errorf("base rules after restart %v, before %v", rc, base)
	}
	if err := m.Reconcile(map[string]string{idA: nsA}); err != nil {
		t.Fatal(err)
	}
	tags := portRuleTags(t, e.cfg.TableName)
	if len(tags) != 1 || len(tags[idA]) != 2 {
		t.Errorf("rules after Reconcile: %v", tags)
	}
	if linkExists(epB.HostVeth) {
		t.Error("veth of the stopped container left")
	}
	if !linkExists(epA.HostVeth) {
		t.Error("veth of the running container not recreated")
	}
	expectTCP(t, "after reconcile", "", net.JoinHostPort("127.0.0.1", strconv.Itoa(pa)), "A")
	got, _ := m.Endpoint(idA)
	if got.NetNSPath != nsA {
		t.Errorf("A not attached after Reconcile: %q", got.NetNSPath)
	}
	// Reconcile again changes nothing
	if err := m.Reconcile(map[string]string{idA: nsA}); err != nil {
		t.Fatal(err)
	}
	if tags2 := portRuleTags(t, e.cfg.TableName); len(tags2[idA]) != 2 || len(tags2) != 1 {
		t.Errorf("second Reconcile: %v", tags2)
	}
	// B's allocation survived (stopped, not removed): restarting it works
	if err := m.Attach(epB, nsB); err != nil {
		t.Fatal(err)
	}
	if n := len(portRuleTags(t, e.cfg.TableName)[idB]); n != 1 {
		t.Errorf("B rules %d", n)
	}
	// nothing running: everything goes
	if err := m.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if rc := ruleCounts(t, e.cfg.TableName); rc[chainPorts] != 0 {
		t.Errorf("rules left: %v", rc)
	}
	if linkExists(epA.HostVeth) || linkExists(epB.HostVeth) {
		t.Error("veths left")
	}
	checkForeign()
}

func TestUserNetworks(t *testing.T) {
	e := newTestEnv(t)
	m := e.m
	name := "appnet" + randHex(4)
	sn := freeSubnet(t, "10.215", 24)

	if _, err := m.CreateNetwork("x"+randHex(4), e.subnet.String(), ""); err == nil || !strings.Contains(err.Error(), "overlaps network bridge") {
		t.Errorf("overlap with the default bridge: %v", err)
	}
	if used := usedNets(t); len(used) > 0 {
		var hostRoute *net.IPNet
		for _, u := range used {
			if !u.IP.IsLoopback() && !e.subnet.Contains(u.IP) {
				hostRoute = u
				break
			}
		}
		if hostRoute != nil {
			if _, err := m.CreateNetwork("x"+randHex(4), hostRoute.String(), ""); err == nil || !strings.Contains(err.Error(), "overlaps") {
				t.Errorf("overlap with host route %s: %v", hostRoute, err)
			}
		}
	}
	for _, bad := range []string{"bridge", "host", "none", "-x", "a b"} {
		if _, err := m.CreateNetwork(bad, "", ""); err == nil {
			t.Errorf("network name %q accepted", bad)
		}
	}
	n, err := m.CreateNetwork(name, sn.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.RemoveNetwork(name) })
	if n.Gateway != nthIP(sn, 1).String() || !linkExists(n.Bridge) {
		t.Errorf("network %+v", n)
	}
	if _, err := m.CreateNetwork(name, "", ""); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate name: %v", err)
	}
	sn2 := &net.IPNet{IP: sn.IP, Mask: net.CIDRMask(25, 32)}
	if _, err := m.CreateNetwork("y"+randHex(4), sn2.String(), ""); err == nil || !strings.Contains(err.Error(), "overlaps network "+name) {
		t.Errorf("overlapping subnet: %v", err)
	}

	dir := t.TempDir()
	idDB, idWeb := "d"+randHex(20), "w"+randHex(20)
	epDB, err := m.Allocate(EndpointOptions{ContainerID: idDB, ContainerName: "db", Network: name, Aliases: []string{"database"}})
	if err != nil {
		t.Fatal(err)
	}
	epWeb, err := m.Allocate(EndpointOptions{ContainerID: idWeb, ContainerName: "web", Network: name,
		ExtraHosts: []string{"extra:192.0.2.99"}, DNS: []string{"192.0.2.53"}})
	if err != nil {
		t.Fatal(err)
	}
	if !sn.Contains(net.ParseIP(epDB.IPAddress)) || epDB.Bridge != n.Bridge {
		t.Errorf("db endpoint %+v", epDB)
	}
	nsDB, nsWeb := newNS(t, m), newNS(t, m)
	if err := m.Attach(epWeb, nsWeb); err != nil {
		t.Fatal(err)
	}
	resolv, hostsWeb, hostname, err := m.WriteFiles(epWeb, filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if h := read(hostsWeb); strings.Contains(h, "\tdb") || !hasLine(h, epWeb.IPAddress+"\t"+epWeb.Hostname+" web") || !hasLine(h, "192.0.2.99\textra") {
		t.Errorf("web hosts before db runs:\n%s", h)
	}
	if r := read(resolv); !hasLine(r, "nameserver 192.0.2.53") {
		t.Errorf("resolv.conf:\n%s", r)
	}
	if hn := read(hostname); hn != epWeb.Hostname+"\n" {
		t.Errorf("hostname %q", hn)
	}
	// db starts: web's hosts file learns it (same inode: bind mounts see it)
	st1, _ := os.Stat(hostsWeb)
	if err := m.Attach(epDB, nsDB); err != nil {
		t.Fatal(err)
	}
	if _, hostsDB, _, err := m.WriteFiles(epDB, filepath.Join(dir, "db")); err != nil {
		t.Fatal(err)
	} else if h := read(hostsDB); !hasLine(h, epWeb.IPAddress+"\tweb "+idWeb[:12]) {
		t.Errorf("db hosts:\n%s", h)
	}
	st2, _ := os.Stat(hostsWeb)
	if h := read(hostsWeb); !hasLine(h, epDB.IPAddress+"\tdb database "+idDB[:12]) || !os.SameFile(st1, st2) {
		t.Errorf("web hosts after db started (same file %v):\n%s", os.SameFile(st1, st2), h)
	}
	// traffic on the user bridge, by the address the hosts file gives
	serveTCP(t, nsDB, 5432, "db here")
	expectTCP(t, "web to db", nsWeb, net.JoinHostPort(epDB.IPAddress, "5432"), "db here")

	nw, err := m.Network(name)
	if err != nil || len(nw.Containers) != 2 || !nw.Containers[idDB].Running || nw.Containers[idDB].Name != "db" {
		t.Errorf("Network(): %+v %v", nw, err)
	}
	all, _ := m.Networks()
	var names []string
	for _, x := range all {
		names = append(names, x.Name)
	}
	if strings.Join(names, ",") != strings.Join([]string{name, "bridge", "host", "none"}, ",") {
		t.Errorf("Networks(): %v", names)
	}

	if err := m.RemoveNetwork(name); err == nil || !strings.Contains(err.Error(), "has containers attached: db, web") {
		t.Errorf("remove with containers: %v", err)
	}
	if err := m.RemoveNetwork("bridge"); err == nil {
		t.Error("removed the default network")
	}
	// db stops: web's hosts forgets it
	if err := m.Detach(epDB); err != nil {
		t.Fatal(err)
	}
	if h := read(hostsWeb); strings.Contains(h, "\tdb") {
		t.Errorf("web hosts after db stopped:\n%s", h)
	}
	for _, id := range []string{idDB, idWeb} {
		if err := m.Release(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RemoveNetwork(name); err != nil {
		t.Fatal(err)
	}
	if linkExists(n.Bridge) {
		t.Error("bridge left after RemoveNetwork")
	}
	if _, err := m.Network(name); err == nil {
		t.Error("network still listed")
	}
	if err := m.RemoveNetwork(name); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("second remove: %v", err)
	}
}

func TestForwardingWarning(t *testing.T) {
	requireRoot(t)
	old := ipForwardPath
	ipForwardPath = filepath.Join(t.TempDir(), "missing", "ip_forward")
	defer func() { ipForwardPath = old }()
	e := newTestEnv(t)
	if w := e.m.Warnings(); len(w) != 1 || w[0] != ForwardingWarning {
		t.Errorf("warnings %q", w)
	}
}

// BenchmarkAttachDetach measures the network part of a container's life:
// Allocate + CreateNetNS + Attach + Detach + RemoveNetNS + Release, with one
// published port, on a database with fsync (as the daemon's).
//
// Sub-benchmark "isolated" lets the kernel finish its asynchronous work
// (veth unregistration, namespace teardown: RCU grace periods of a few ms
// on this VM) between iterations, outside the timer: the latency one
// `ctr run` sees. "back-to-back" runs them without a pause: throughput,
// where each iteration also pays for the previous one's kernel cleanup.
func BenchmarkAttachDetach(b *testing.B) {
	requireRoot(b)
	dir := b.TempDir()
	sn := freeSubnet(b, "10.213", 24)
	cfg := Config{Bridge: "ctrt" + randHex(4), BIP: nthIP(sn, 1).String() + "/24", ExecRoot: filepath.Join(dir, "exec"),
		TableName: "ctrd_test_" + randHex(8)}
	db := openTestDB(b, filepath.Join(dir, "meta.db"))
	defer db.Close()
	m, err := New(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.teardown()
	port := freeHostPort(b)
	ports, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", port)})
	// the cost of one bbolt commit on this disk, for reference: Allocate
	// and Release are one each
	b.Run("bolt-commit", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("bench"))
				if err != nil {
					return err
				}
				return bk.Put([]byte("k"), []byte(strconv.Itoa(i)))
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []string{"isolated", "back-to-back"} {
		b.Run(mode, func(b *testing.B) {
			var tAlloc, tNS, tAttach, tDetach, tRelease time.Duration
			for i := 0; i < b.N; i++ {
				if mode == "isolated" {
					b.StopTimer()
					m.bg.Wait()
					time.Sleep(30 * time.Millisecond)
					b.StartTimer()
				}
				id := fmt.Sprintf("bench%d%s", i, randHex(8))
				t0 := time.Now()
				ep, err := m.Allocate(EndpointOptions{ContainerID: id, Ports: ports})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				p := m.NetNSPath(id)
				if err := CreateNetNS(p); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := m.Attach(ep, p); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				if err := m.Detach(ep); err != nil {
					b.Fatal(err)
				}
				if err := RemoveNetNS(p); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				if err := m.Release(id); err != nil {
					b.Fatal(err)
				}
				t5 := time.Now()
				tAlloc += t1.Sub(t0)
				tNS += t2.Sub(t1)
				tAttach += t3.Sub(t2)
				tDetach += t4.Sub(t3)
				tRelease += t5.Sub(t4)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tAlloc.Microseconds())/n, "alloc-µs")
			b.ReportMetric(float64(tNS.Microseconds())/n, "netns-µs")
			b.ReportMetric(float64(tAttach.Microseconds())/n, "attach-µs")
			b.ReportMetric(float64(tDetach.Microseconds())/n, "detach+rmns-µs")
			b.ReportMetric(float64(tRelease.Microseconds())/n, "release-µs")
		})
	}
}

// TestTableLost: someone flushed the ruleset (or the host rebooted the
// firewall) while containers ran: a restart puts back the table and, with
// Reconcile, the rules of the running containers.
func TestTableLost(t *testing.T) {
	e := newTestEnv(t)
	m := e.m
	p := freeHostPort(t)
	ports, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", p)})
	id := "a" + randHex(20)
	ep, err := m.Allocate(EndpointOptions{ContainerID: id, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, m)
	if err := m.Attach(ep, ns); err != nil {
		t.Fatal(err)
	}
	serveTCP(t, ns, 80, "back")
	base := ruleCounts(t, e.cfg.TableName)
	if err := m.fw.destroy(); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	if err := e.m.Reconcile(map[string]string{id: ns}); err != nil {
		t.Fatal(err)
	}
	if rc := ruleCounts(t, e.cfg.TableName); fmt.Sprint(rc) != fmt.Sprint(base) {
		t.Errorf("rules %v, want %v", rc, base)
	}
	expectTCP(t, "after the table came back", "", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), "back")
}

// TestBusyboxHTTPD serves a real httpd (busybox) in a container namespace
// and fetches it over HTTP through the published port, from the host and
// from the client host.
func TestBusyboxHTTPD(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("nsenter not installed")
	}
	e := newTestEnv(t)
	m := e.m
	client, hostIP, _ := clientHost(t, m)
	p := freeHostPort(t)
	ports, _ := ParsePortSpecs([]string{fmt.Sprintf("%d:80", p)})
	id := "h" + randHex(20)
	ep, err := m.Allocate(EndpointOptions{ContainerID: id, ContainerName: "web", Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, m)
	if err := m.Attach(ep, ns); err != nil {
		t.Fatal(err)
	}
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("busybox says hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nsenter, "--net="+ns, bb, "httpd", "-f", "-p", "80", "-h", www)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	get := func(nsPath, host string) (string, error) {
		var out string
		var err error
		do := func() {
			var c net.Conn
			c, err = net.DialTimeout("tcp4", net.JoinHostPort(host, strconv.Itoa(p)), time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, e := c.Read(buf)
				b.Write(buf[:n])
				if e != nil {
					break
				}
			}
			out = b.String()
		}
		if nsPath == "" {
			do()
		} else {
			inNS(t, nsPath, do)
		}
		return out, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		out, err := get("", "127.0.0.1")
		if err == nil && strings.Contains(out, "busybox says hi") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd via 127.0.0.1: %q %v", out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := get(client, hostIP.String()); err != nil || !strings.Contains(out, "200 OK") || !strings.Contains(out, "busybox says hi") {
		t.Errorf("httpd from the client host: %q %v", out, err)
	}
}

func TestHostModeFiles(t *testing.T) {
	e := newTestEnv(t)
	id := "h" + randHex(20)
	ep, err := e.m.Allocate(EndpointOptions{ContainerID: id, Network: "host", ExtraHosts: []string{"x:192.0.2.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Attach(ep, ""); err != nil {
		t.Fatal(err)
	}
	r, h, hn, err := e.m.WriteFiles(ep, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.ReadFile(hostHostsFile)
	hosts, _ := os.ReadFile(h)
	if !strings.HasPrefix(string(hosts), string(host)) || !strings.Contains(string(hosts), "192.0.2.5\tx\n") {
		t.Errorf("hosts:\n%s", hosts)
	}
	name, _ := os.Hostname()
	if b, _ := os.ReadFile(hn); string(b) != name+"\n" {
		t.Errorf("hostname %q", b)
	}
	if b, _ := os.ReadFile(r); !strings.Contains(string(b), "# Generated by ctrd") {
		t.Errorf("resolv.conf:\n%s", b)
	}
	if err := e.m.Detach(ep); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Release(id); err != nil {
		t.Fatal(err)
	}
}
