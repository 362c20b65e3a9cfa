package network

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// portInUse tells whether a host socket holds proto hostIP:port, by trying
// to bind it: a syscall, where reading /proc/net/tcp costs milliseconds on a
// big machine (the kernel walks its whole hash table). TCP probes with
// SO_REUSEADDR, so only listeners (not TIME_WAIT or client connections)
// count. A hostIP that is not an address of the host is an error.
func portInUse(proto, hostIP string, port int) (bool, error) {
	typ := unix.SOCK_STREAM
	switch proto {
	case "tcp":
	case "udp":
		typ = unix.SOCK_DGRAM
	default: // sctp: not probed
		return false, nil
	}
	ip := net.ParseIP(hostIP).To4()
	if ip == nil {
		return false, fmt.Errorf("invalid host IP %q", hostIP)
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("probe port %d: %w", port, err)
	}
	defer unix.Close(fd)
	if proto == "tcp" {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	sa := &unix.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip)
	switch err := unix.Bind(fd, sa); err {
	case nil:
		return false, nil
	case unix.EADDRINUSE:
		return true, nil
	case unix.EADDRNOTAVAIL:
		return false, fmt.Errorf("Bind for %s:%d failed: %s is not an address of this host", hostIP, port, hostIP)
	default:
		return false, fmt.Errorf("probe %s:%d: %w", hostIP, port, err)
	}
}

// hostSocket is a socket of a host process bound to a port, read from
// /proc/net/{tcp,udp}{,6}: listening TCP sockets and unconnected UDP ones.
type hostSocket struct {
	ip    net.IP // 16-byte form
	port  int
	inode string
}

// procNetDir is where the host's socket tables are read: the calling
// thread's namespace, which for an unlocked goroutine is the daemon's
// (/proc/net follows the main thread, which other code may have left in
// another namespace).
var procNetDir = "/proc/thread-self/net"

// hostSockets lists the host's bound sockets of one protocol.
func hostSockets(proto string) []hostSocket {
	var files []string
	switch proto {
	case "tcp":
		files = []string{"tcp", "tcp6"}
	case "udp":
		files = []string{"udp", "udp6"}
	default: // sctp: no table in /proc/net we can read portably
		return nil
	}
	var out []hostSocket
	for _, f := range files {
		out = append(out, readProcNet(filepath.Join(procNetDir, f), proto)...)
	}
	return out
}

func readProcNet(path, proto string) []hostSocket {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []hostSocket
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 {
			continue
		}
		local, remote, state, inode := fs[1], fs[2], fs[3], fs[9]
		if proto == "tcp" && state != "0A" { // LISTEN
			continue
		}
		if proto == "udp" && !strings.HasSuffix(remote, ":0000") {
			continue // connected client socket: does not hold the port for others
		}
		ip, port, ok := parseProcAddr(local)
		if !ok {
			continue
		}
		out = append(out, hostSocket{ip: ip, port: port, inode: inode})
	}
	return out
}

// parseProcAddr decodes "0100007F:0CF9" (IPv4) or 32 hex digits + port
// (IPv6); the address is in host byte order per 32-bit word.
func parseProcAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 { // little-endian words (x86, arm64)
		ip[w], ip[w+1], ip[w+2], ip[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	return ip.To16(), int(port), true
}

// conflicts tells whether a host socket keeps an IPv4 bind of hostIP:port
// from succeeding.
func (s hostSocket) conflicts(hostIP string, port int) bool {
	if s.port != port {
		return false
	}
	if s.ip.IsUnspecified() { // 0.0.0.0 or [::] (dual-stack unless v6only)
		return true
	}
	v4 := s.ip.To4()
	if v4 == nil { // a specific IPv6 address
		return false
	}
	return hostIP == "0.0.0.0" || v4.String() == hostIP
}

func findHostHolder(socks []hostSocket, hostIP string, port int) (hostSocket, bool) {
	for _, s := range socks {
		if s.conflicts(hostIP, port) {
			return s, true
		}
	}
	return hostSocket{}, false
}

// describeSocketOwner names the process owning a socket inode by scanning
// /proc/*/fd, e.g. `process "nginx" (pid 812)`.
func describeSocketOwner(inode string) string {
	target := "socket:[" + inode + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err == nil && l == target {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return fmt.Sprintf("process %q (pid %d)", strings.TrimSpace(string(comm)), pid)
			}
		}
	}
	return "a host process (socket inode " + inode + ", owner not found)"
}
