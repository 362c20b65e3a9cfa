package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctrd/ctrd/network"
	"github.com/ctrd/ctrd/network/sockredirect"
)

// clientHost is a network namespace with its own veth to the host: the
// way another machine reaches this one. Addresses are a /30 the test owns.
type clientHost struct {
	ns, hostIP, clientIP string
}

func newClientHost(t *testing.T) *clientHost {
	t.Helper()
	sub, err := pickSubnet() // 10.x.y.1/24, free on this host
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(sub, ".1/24")
	c := &clientHost{ns: "ctc" + randHex(4), hostIP: base + ".1", clientIP: base + ".2"}
	hv, cv := c.ns+"h", c.ns+"c"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hv).Run()
		exec.Command("ip", "netns", "del", c.ns).Run()
	})
	run("ip", "netns", "add", c.ns)
	run("ip", "link", "add", hv, "type", "veth", "peer", "name", cv)
	run("ip", "link", "set", cv, "netns", c.ns)
	run("ip", "addr", "add", c.hostIP+"/24", "dev", hv)
	run("ip", "link", "set", hv, "up")
	run("ip", "netns", "exec", c.ns, "ip", "addr", "add", c.clientIP+"/24", "dev", cv)
	run("ip", "netns", "exec", c.ns, "ip", "link", "set", cv, "up")
	run("ip", "netns", "exec", c.ns, "ip", "link", "set", "lo", "up")
	return c
}

// get fetches url from inside the client host.
func (c *clientHost) get(url string) (string, error) {
	// curl, not the host's busybox: a static glibc wget crashes in its
	// resolver setup on the host.
	out, err := exec.Command("ip", "netns", "exec", c.ns, "curl", "-s", "-m", "3", url).CombinedOutput()
	return string(out), err
}

func httpGet(url string) (string, error) {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// freePort is a TCP port no socket uses and that no earlier call returned:
// a port published by a container is held by nftables rules, not by a
// socket, so the kernel may hand it out again.
func freePort(t *testing.T) int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

func nftTable(t *testing.T, name string) string {
	out, _ := exec.Command("nft", "list", "table", "ip", name).CombinedOutput()
	return string(out)
}

// runHTTPD runs a detached busybox httpd container (with ctr run flags
// args) serving page as its index, from <d.Root>/www.
func runHTTPD(t *testing.T, d *Daemon, page string, args ...string) {
	t.Helper()
	www := filepath.Join(d.Root, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	run := append(append([]string{"run", "-d"}, args...), "-v", www+":/www:ro", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	d.MustCtr(t, run...)
}

func TestPublishedPorts(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	// A foreign table that must stay untouched.
	foreign := "ctrd_foreign_" + randHex(3)
	exec.Command("nft", "add", "table", "ip", foreign).Run()
	exec.Command("nft", "add", "chain", "ip", foreign, "c").Run()
	exec.Command("nft", "add", "rule", "ip", foreign, "c", "counter").Run()
	t.Cleanup(func() { exec.Command("nft", "delete", "table", "ip", foreign).Run() })
	foreignBefore := nftTable(t, foreign)

	d := busyboxDaemon(t)
	client := newClientHost(t)
	port := freePort(t)
	want := "hello-from-web\n"
	runHTTPD(t, d, want, "--name", "web", "-p", fmt.Sprintf("%d:80", port))
	waitFor(t, 5*time.Second, func() bool { s, _ := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); return s == want })
	// From the host through a non-loopback address of its own.
	if s, err := httpGet(fmt.Sprintf("http://%s:%d/", client.hostIP, port)); s != want {
		t.Fatalf("via host address %s: %q %v", client.hostIP, s, err)
	}
	// From another host.
	if s, err := client.get(fmt.Sprintf("http://%s:%d/", client.hostIP, port)); s != want {
		t.Fatalf("from the client host: %q %v", s, err)
	}
	// From another container (hairpin through the host's address).
	if s := d.MustCtr(t, "run", "--rm", "busybox", "timeout", "5", "wget", "-q", "-O", "-", fmt.Sprintf("http://%s:%d/", client.hostIP, port)); s+"\n" != want {
		t.Fatalf("from a container: %q", s)
	}
	if ps := d.MustCtr(t, "ps", "--format", "{{.Ports}}"); ps != fmt.Sprintf("0.0.0.0:%d->80/tcp", port) {
		t.Fatalf("ps PORTS: %q", ps)
	}
	if p := d.MustCtr(t, "port", "web"); p != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port) {
		t.Fatalf("ctr port: %q", p)
	}
	ip := d.MustCtr(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}", "web")
	if f := strings.Fields(ip); len(f) != 3 || net.ParseIP(f[0]) == nil || !strings.HasPrefix(f[2], "02:42:") {
		t.Fatalf("NetworkSettings: %q", ip)
	}
	// Bound to 127.0.0.1 only, and UDP.
	lport := freePort(t)
	runHTTPD(t, d, want, "--name", "local", "-p", fmt.Sprintf("127.0.0.1:%d:80/tcp", lport))
	waitFor(t, 5*time.Second, func() bool { s, _ := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", lport)); return s == want })
	if s, _ := client.get(fmt.Sprintf("http://%s:%d/", client.hostIP, lport)); s == want {
		t.Fatal("a port published on 127.0.0.1 answered another host")
	}
	uport := freePort(t)
	tools := buildUDPEcho(t, d)
	d.MustCtr(t, "run", "-d", "--name", "udp", "-p", fmt.Sprintf("%d:53/udp", uport), "-v", tools+":/t:ro", "busybox", "/t/udpecho", "53")
	for _, host := range []string{"127.0.0.1", client.hostIP} {
		waitFor(t, 10*time.Second, func() bool { return udpPing(fmt.Sprintf("%s:%d", host, uport)) })
	}

	// Conflicts: another container's port, a host process's port.
	r := d.Ctr("run", "-d", "--name", "clash", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "10")
	if r.Code == 0 || !strings.Contains(r.Stderr, "web") {
		t.Fatalf("port of another container: %s", r)
	}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	held := l.Addr().(*net.TCPAddr).Port
	r = d.Ctr("run", "-d", "--name", "clash2", "-p", fmt.Sprintf("%d:80", held), "busybox", "sleep", "10")
	l.Close()
	if r.Code == 0 || !strings.Contains(r.Stderr, "e2e.test") && !strings.Contains(r.Stderr, "pid") {
		t.Fatalf("port held by a host process must name it: %s", r)
	}
	if out := d.Ctr("inspect", "clash"); out.Code == 0 {
		t.Fatal("failed run left its container")
	}

	// Rules exist exactly while containers run.
	table := "ctrd_" + d.Bridge
	if !strings.Contains(nftTable(t, table), fmt.Sprint(port)) {
		t.Fatalf("no rule for %d in %s:\n%s", port, table, nftTable(t, table))
	}
	veths := func() int {
		out, _ := exec.Command("ip", "-o", "link", "show", "master", d.Bridge).CombinedOutput()
		return strings.Count(string(out), "\n")
	}
	if n := veths(); n != 3 {
		t.Fatalf("%d veths on the bridge, want 3", n)
	}
	d.MustCtr(t, "rm", "-f", "web")
	if strings.Contains(nftTable(t, table), fmt.Sprint(port)) {
		t.Fatalf("rule for %d left after rm:\n%s", port, nftTable(t, table))
	}
	if n := veths(); n != 2 {
		t.Fatalf("%d veths after rm, want 2", n)
	}
	// Crash: container stops while ctrd is dead; after restart no stale rule.
	lpid := d.MustCtr(t, "inspect", "-f", "{{.State.Pid}}", "local")
	d.Kill9(t)
	exec.Command("kill", "-9", lpid).Run()
	rulesBefore := nftTable(t, table)
	d.Restart(t)
	waitFor(t, 5*time.Second, func() bool { return !strings.Contains(nftTable(t, table), fmt.Sprint(lport)) })
	if !strings.Contains(nftTable(t, table), fmt.Sprint(uport)) {
		t.Fatalf("rule of the running container lost in the restart:\n%s\nbefore:\n%s", nftTable(t, table), rulesBefore)
	}
	if got := strings.Count(nftTable(t, table), fmt.Sprintf("dport %d", uport)); got == 0 {
		t.Fatalf("udp rule missing")
	}
	if foreignAfter := nftTable(t, foreign); foreignAfter != foreignBefore {
		t.Fatalf("foreign table changed:\nbefore:\n%s\nafter:\n%s", foreignBefore, foreignAfter)
	}
}

func TestPublishAllAndBadPorts(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "commit", "-c", "EXPOSE 80", "-c", "EXPOSE 53/udp", d.MustCtr(t, "create", "busybox"), "exposed:latest")
	d.MustCtr(t, "run", "-d", "--name", "pall", "-P", "exposed", "sleep", "100")
	ports := d.MustCtr(t, "port", "pall")
	if !strings.Contains(ports, "80/tcp -> 0.0.0.0:") || !strings.Contains(ports, "53/udp -> 0.0.0.0:") {
		t.Fatalf("-P: %q", ports)
	}
	for _, p := range []string{"99999:80", "abc", "80:80/foo", "8000-8002:80-81", "0.0.0.0.1:80:80"} {
		r := d.Ctr("run", "-d", "-p", p, "busybox", "true")
		if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("-p %s: %s", p, r)
		}
	}
	for _, args := range [][]string{{"--network", "nosuch"}, {"--dns", "notanip"}, {"--add-host", "nocolon"}} {
		r := d.Ctr(append(append([]string{"run", "-d"}, args...), "busybox", "true")...)
		if r.Code != 125 {
			t.Errorf("%v: %s", args, r)
		}
	}
	if n := len(strings.Fields(d.MustCtr(t, "ps", "-aq"))); n != 2 { // the committed one and pall
		t.Errorf("bad input left containers (%d)", n)
	}
}

func TestNetworkModesAndUserNetworks(t *testing.T) {
	d := busyboxDaemon(t)
	out := d.MustCtr(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '")
	if strings.TrimSpace(out) != "lo" {
		t.Fatalf("--network none: %q", out)
	}
	hostName, _ := os.Hostname()
	out = d.MustCtr(t, "run", "--rm", "--network", "host", "busybox", "sh", "-c", "hostname; ls /sys/class/net | grep -c "+d.Bridge)
	if !strings.HasPrefix(out, hostName+"\n") || !strings.HasSuffix(out, "1") {
		t.Fatalf("--network host: %q", out)
	}
	out = d.MustCtr(t, "run", "--rm", "--dns", "10.1.2.3", "--dns-search", "example.test", "--add-host", "db.local:10.9.9.9", "--name", "named", "busybox",
		"sh", "-c", "cat /etc/resolv.conf /etc/hosts /etc/hostname")
	for _, want := range []string{"nameserver 10.1.2.3", "search example.test", "10.9.9.9\tdb.local", "named", "127.0.0.1\tlocalhost"} {
		if !strings.Contains(out, want) {
			t.Errorf("network files lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nameserver 127.") {
		t.Errorf("loopback nameserver leaked into resolv.conf:\n%s", out)
	}

	sub, err := pickSubnet()
	if err != nil {
		t.Fatal(err)
	}
	netName := "appnet" + randHex(2)
	d.MustCtr(t, "network", "create", "--subnet", strings.TrimSuffix(sub, ".1/24")+".0/24", netName)
	r := d.Ctr("network", "create", "--subnet", strings.TrimSuffix(sub, ".1/24")+".0/24", netName+"x")
	if r.Code == 0 {
		t.Fatalf("overlapping subnet accepted: %s", r)
	}
	if ls := d.MustCtr(t, "network", "ls"); !strings.Contains(ls, netName) || !strings.Contains(ls, "bridge") {
		t.Fatalf("network ls: %q", ls)
	}
	runHTTPD(t, d, "db-page\n", "--network", netName, "--name", "db")
	var got string
	waitFor(t, 10*time.Second, func() bool {
		got = d.Ctr("run", "--rm", "--network", netName, "busybox", "timeout", "3", "wget", "-q", "-O", "-", "http://db/").Stdout
		return got == "db-page\n"
	})
	if out := d.MustCtr(t, "run", "--rm", "--network", netName, "busybox", "ping", "-c1", "-W2", "db"); !strings.Contains(out, "1 packets received") {
		t.Fatalf("ping db: %q", out)
	}
	r = d.Ctr("network", "rm", netName)
	if r.Code == 0 || !strings.Contains(r.Stderr, "db") {
		t.Fatalf("rm of a network in use must name the container: %s", r)
	}
	d.MustCtr(t, "rm", "-f", "db")
	d.MustCtr(t, "network", "rm", netName)
	if r := d.Ctr("network", "inspect", netName); r.Code == 0 {
		t.Fatal("network still there")
	}
}

// buildUDPEcho builds testdata/udpecho statically into a directory to
// bind-mount into containers.
func buildUDPEcho(t *testing.T, d *Daemon) string {
	dir := filepath.Join(d.Root, "tools")
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "udpecho"), "./testdata/udpecho")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build udpecho: %v\n%s", err, out)
	}
	return dir
}

func udpPing(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && string(buf[:n]) == "pong-ping"
}

// A network namespace left by a container whose record is gone (ctrd died
// between a removal's commit and the release of the container's runtime)
// is removed at the next start; those of known containers are kept.
func TestOrphanNetNSRemovedAtStart(t *testing.T) {
	d := busyboxDaemon(t)
	id := d.MustCtr(t, "run", "-d", "busybox", "sleep", "600")
	d.Kill9(t)
	orphan := filepath.Join(d.ExecRoot, "netns", strings.Repeat("0f", 32))
	if err := network.CreateNetNS(orphan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = network.RemoveNetNS(orphan) })
	d.start(t, true)
	if _, err := os.Lstat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan network namespace still there: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(d.ExecRoot, "netns", id)); err != nil {
		t.Errorf("the running container's namespace went: %v", err)
	}
	if out := d.MustCtr(t, "exec", id, "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, "inet ") {
		t.Errorf("the running container lost its network: %q", out)
	}
	d.MustCtr(t, "rm", "-f", id)
}

// Connections of the host to a published port on its own addresses go
// straight to the container (connect() is redirected, no NAT): the
// socket's peer is the container. Only while ctrd runs and the container
// publishes the port, on the address it is published on, and never for a
// container's own 127.0.0.1.
func TestHostConnectionsRedirected(t *testing.T) {
	if sockredirect.CgroupRoot() == "" {
		t.Skip("no cgroup v2 hierarchy: the host reaches published ports through NAT")
	}
	d := busyboxDaemon(t)
	port := freePort(t)
	runHTTPD(t, d, "hello-from-web\n", "--name", "web", "-p", fmt.Sprintf("%d:80", port))
	cip := d.MustCtr(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web")
	local := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, 5*time.Second, func() bool { s, _ := httpGet("http://" + local + "/"); return s == "hello-from-web\n" })
	peer := func() string {
		c, err := net.DialTimeout("tcp4", local, 3*time.Second)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		return c.RemoteAddr().String()
	}
	if got := peer(); got != cip+":80" {
		t.Fatalf("connection to %s went to %s, want the container %s:80", local, got, cip)
	}
	// So are those to the host's other addresses: the bridge's.
	gw := d.MustCtr(t, "inspect", "-f", "{{.NetworkSettings.Gateway}}", "web")
	if c, err := net.DialTimeout("tcp4", net.JoinHostPort(gw, strconv.Itoa(port)), 3*time.Second); err != nil {
		t.Errorf("via the bridge address %s: %v", gw, err)
	} else {
		if got := c.RemoteAddr().String(); got != cip+":80" {
			t.Errorf("connection to %s:%d went to %s, want the container", gw, port, got)
		}
		c.Close()
	}
	// A port published on 127.0.0.1 only is not redirected from another
	// address of the host.
	lport := freePort(t)
	d.MustCtr(t, "run", "-d", "--name", "lo-only", "-p", fmt.Sprintf("127.0.0.1:%d:80", lport), "busybox", "httpd", "-f", "-p", "80", "-h", "/")
	waitFor(t, 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", lport), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if c, err := net.DialTimeout("tcp4", net.JoinHostPort(gw, strconv.Itoa(lport)), time.Second); err == nil {
		t.Errorf("a port published on 127.0.0.1 answered on %s (peer %s)", gw, c.RemoteAddr())
		c.Close()
	}
	d.MustCtr(t, "rm", "-f", "lo-only")
	// A container's 127.0.0.1 is its own.
	if r := d.Ctr("run", "--rm", "busybox", "timeout", "5", "wget", "-q", "-O", "-", "http://"+local+"/"); r.Code == 0 {
		t.Fatalf("another container reached the published port on its own 127.0.0.1: %s", r)
	}
	// Without ctrd the rules still serve, through NAT; a restarted ctrd
	// redirects again.
	d.Stop(t)
	if got := peer(); got != local {
		t.Errorf("with ctrd stopped, the connection went to %s, want NAT to %s", got, local)
	}
	d.start(t, true)
	if got := peer(); got != cip+":80" {
		t.Errorf("after the restart, the connection went to %s, want %s:80", got, cip)
	}
	d.MustCtr(t, "rm", "-f", "web")
	if got := peer(); !strings.Contains(got, "refused") {
		t.Errorf("after rm, a connection to %s: %s", local, got)
	}
}
