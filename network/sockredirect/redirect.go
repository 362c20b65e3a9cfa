// Package sockredirect sends connections that processes of the host make to
// a published port on 127.0.0.1 straight to the container: a BPF program on
// connect() (cgroup/connect4, attached to the root of the cgroup v2
// hierarchy) rewrites the destination, so the connection's packets are never
// NATed. Through DNAT, a connection to 127.0.0.1 also needs SNAT and a
// second routing decision for every packet; redirected, it runs as fast as
// one made to the container's address.
//
// Only TCP, only 127.0.0.1 and only the host's network namespace (containers
// have a loopback of their own) are redirected; everything else is left to
// the nftables rules, which stay the reference.
package sockredirect

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Redirector holds the program, its port map and its attachment; Close
// detaches it.
type Redirector struct {
	ports *ebpf.Map
	prog  *ebpf.Program
	link  link.Link
}

// Offsets in struct bpf_sock_addr (include/uapi/linux/bpf.h).
const (
	offUserIP4   = 4
	offUserPort  = 24
	offProtocol  = 36
	loopbackIPv4 = 0x0100007f // 127.0.0.1 as the kernel's u32 holds it, read little-endian
)

// New loads the program and attaches it to the cgroup v2 directory cgroup
// (normally the root of the hierarchy, so that it sees every process).
func New(cgroup string) (*Redirector, error) {
	cookie, err := hostNetNSCookie()
	if err != nil {
		return nil, err
	}
	ports, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "ctrd_ports",
		Type:       ebpf.Hash,
		KeySize:    4, // the port, as user_port holds it
		ValueSize:  8, // address and port, as user_ip4 and user_port hold them
		MaxEntries: 65536,
	})
	if err != nil {
		return nil, fmt.Errorf("sockredirect: port map: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "ctrd_connect4",
		Type:         ebpf.CGroupSockAddr,
		AttachType:   ebpf.AttachCGroupInet4Connect,
		License:      "Apache-2.0",
		Instructions: program(ports.FD(), cookie),
	})
	if err != nil {
		ports.Close()
		return nil, fmt.Errorf("sockredirect: load: %w", err)
	}
	l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: ebpf.AttachCGroupInet4Connect, Program: prog})
	if err != nil {
		prog.Close()
		ports.Close()
		return nil, fmt.Errorf("sockredirect: attach to %s: %w", cgroup, err)
	}
	return &Redirector{ports: ports, prog: prog, link: l}, nil
}

// program: for a TCP connect() to 127.0.0.1 from the host's network
// namespace whose port is in the map, the destination becomes the map's.
// It always lets the connect() go on (returns 1).
func program(portsFD int, hostCookie uint64) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // ctx
		asm.LoadMem(asm.R2, asm.R6, offProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, "out"),
		asm.LoadMem(asm.R2, asm.R6, offUserIP4, asm.Word),
		asm.JNE.Imm(asm.R2, loopbackIPv4, "out"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetNetnsCookie.Call(),
		asm.LoadImm(asm.R2, int64(hostCookie), asm.DWord),
		asm.JNE.Reg(asm.R0, asm.R2, "out"),
		asm.LoadMem(asm.R2, asm.R6, offUserPort, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R2, asm.Word),
		asm.LoadMapPtr(asm.R1, portsFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
		asm.StoreMem(asm.R6, offUserIP4, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.R0, 4, asm.Word),
		asm.StoreMem(asm.R6, offUserPort, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	}
}

// portKey is a port as struct bpf_sock_addr's user_port holds it: network
// byte order in the first two bytes.
func portKey(port int) [4]byte { return [4]byte{byte(port >> 8), byte(port)} }

// Set sends connections to 127.0.0.1:hostPort to ip:port.
func (r *Redirector) Set(hostPort int, ip net.IP, port int) error {
	ip4 := ip.To4()
	if ip4 == nil {
		return fmt.Errorf("sockredirect: %s is not an IPv4 address", ip)
	}
	k := portKey(hostPort)
	p := portKey(port)
	v := [8]byte{ip4[0], ip4[1], ip4[2], ip4[3], p[0], p[1]}
	return r.ports.Put(k, v)
}

// Delete stops redirecting hostPort.
func (r *Redirector) Delete(hostPort int) error {
	err := r.ports.Delete(portKey(hostPort))
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// Close detaches the program.
func (r *Redirector) Close() error {
	err := r.link.Close()
	r.prog.Close()
	r.ports.Close()
	return err
}

// hostNetNSCookie is the cookie of this process's network namespace.
func hostNetNSCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("sockredirect: network namespace cookie: %w", err)
	}
	return v, nil
}

// CgroupRoot is the mount point of the cgroup v2 hierarchy, or "" if none
// is mounted.
func CgroupRoot() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		// fields: ... mount point (4) ... "-" fstype source options
		for i, x := range f {
			if x == "-" && i+1 < len(f) && f[i+1] == "cgroup2" && len(f) > 4 && f[3] == "/" {
				return f[4]
			}
		}
	}
	return ""
}
