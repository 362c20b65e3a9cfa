// Package sockredirect sends connections that processes of the host make to
// a published port on one of its own addresses straight to the container: a
// BPF program on connect() (cgroup/connect4, attached to the root of the
// cgroup v2 hierarchy) rewrites the destination, so the connection's packets
// are never NATed. Through DNAT, such a connection also needs a second
// routing decision for every packet (and SNAT for 127.0.0.1); redirected, it
// runs as fast as one made to the container's address.
//
// Only TCP, only the host's own addresses (127.0.0.0/8 and those it is told
// of) and only the host's network namespace (containers have addresses and a
// loopback of their own) are redirected; everything else is left to the
// nftables rules, which stay the reference.
package sockredirect

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Redirector holds the program, its maps and its attachment; Close
// detaches it.
type Redirector struct {
	ports  *ebpf.Map // portKey -> the container's address and port
	locals *ebpf.Map // the host's addresses (besides 127.0.0.0/8)
	prog   *ebpf.Program
	link   link.Link

	mu    sync.Mutex
	known map[[4]byte]bool // what locals holds
}

// Offsets in struct bpf_sock_addr (include/uapi/linux/bpf.h).
const (
	offUserIP4  = 4
	offUserPort = 24
	offProtocol = 36
)

// New loads the program and attaches it to the cgroup v2 directory cgroup
// (normally the root of the hierarchy, so that it sees every process).
func New(cgroup string) (*Redirector, error) {
	cookie, err := hostNetNSCookie()
	if err != nil {
		return nil, err
	}
	r := &Redirector{known: map[[4]byte]bool{}}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	r.ports, err = ebpf.NewMap(&ebpf.MapSpec{
		Name:       "ctrd_ports",
		Type:       ebpf.Hash,
		KeySize:    8, // portKey
		ValueSize:  8, // portValue
		MaxEntries: 65536,
	})
	if err != nil {
		return nil, fmt.Errorf("sockredirect: port map: %w", err)
	}
	r.locals, err = ebpf.NewMap(&ebpf.MapSpec{
		Name:       "ctrd_locals",
		Type:       ebpf.Hash,
		KeySize:    4, // an address, as user_ip4 holds it
		ValueSize:  1,
		MaxEntries: 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("sockredirect: address map: %w", err)
	}
	r.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "ctrd_connect4",
		Type:         ebpf.CGroupSockAddr,
		AttachType:   ebpf.AttachCGroupInet4Connect,
		License:      "Apache-2.0",
		Instructions: program(r.ports.FD(), r.locals.FD(), cookie),
	})
	if err != nil {
		return nil, fmt.Errorf("sockredirect: load: %w", err)
	}
	r.link, err = link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: ebpf.AttachCGroupInet4Connect, Program: r.prog})
	if err != nil {
		return nil, fmt.Errorf("sockredirect: attach to %s: %w", cgroup, err)
	}
	ok = true
	return r, nil
}

// program: a TCP connect() from the host's network namespace to one of the
// host's addresses is redirected when its port is published on that
// address (key: port and address) or on all of them (key: port and 0). It
// always lets the connect() go on (returns 1).
//
// Stack: fp-8 the port key (port, then address), fp-12 the address as a
// key of the locals map.
func program(portsFD, localsFD int, hostCookie uint64) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // ctx
		asm.LoadMem(asm.R2, asm.R6, offProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, "out"),
		// r7: the destination address (its first byte in the low bits).
		asm.LoadMem(asm.R7, asm.R6, offUserIP4, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.And.Imm(asm.R2, 0xff),
		asm.JEq.Imm(asm.R2, 127, "local"),
		asm.StoreMem(asm.RFP, -12, asm.R7, asm.Word),
		asm.LoadMapPtr(asm.R1, localsFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -12),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("local"),
		asm.FnGetNetnsCookie.Call(),
		asm.LoadImm(asm.R2, int64(hostCookie), asm.DWord),
		asm.JNE.Reg(asm.R0, asm.R2, "out"),
		// The port published on this very address?
		asm.LoadMem(asm.R2, asm.R6, offUserPort, asm.Word),
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word),
		asm.LoadMapPtr(asm.R1, portsFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "rewrite"),
		// On every address?
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, portsFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word).WithSymbol("rewrite"),
		asm.StoreMem(asm.R6, offUserIP4, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.R0, 4, asm.Word),
		asm.StoreMem(asm.R6, offUserPort, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	}
}

// portKey is a published port (network byte order in the first two bytes,
// as struct bpf_sock_addr's user_port holds it) and the address it is
// published on (zero: every address of the host).
func portKey(port int, on net.IP) ([8]byte, error) {
	k := [8]byte{byte(port >> 8), byte(port)}
	if on != nil && !on.IsUnspecified() {
		ip4 := on.To4()
		if ip4 == nil {
			return k, fmt.Errorf("sockredirect: %s is not an IPv4 address", on)
		}
		copy(k[4:], ip4)
	}
	return k, nil
}

// Set sends connections to hostPort on the host address on (nil or
// 0.0.0.0: any of the host's addresses) to ip:port.
func (r *Redirector) Set(hostPort int, on net.IP, ip net.IP, port int) error {
	k, err := portKey(hostPort, on)
	if err != nil {
		return err
	}
	ip4 := ip.To4()
	if ip4 == nil {
		return fmt.Errorf("sockredirect: %s is not an IPv4 address", ip)
	}
	v := [8]byte{ip4[0], ip4[1], ip4[2], ip4[3], byte(port >> 8), byte(port)}
	return r.ports.Put(k, v)
}

// Delete stops redirecting hostPort on the address on.
func (r *Redirector) Delete(hostPort int, on net.IP) error {
	k, err := portKey(hostPort, on)
	if err != nil {
		return err
	}
	err = r.ports.Delete(k)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// SetLocalAddrs tells which addresses are the host's (besides 127.0.0.0/8,
// always): connections to others are never redirected.
func (r *Redirector) SetLocalAddrs(addrs []net.IP) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[[4]byte]bool{}
	for _, a := range addrs {
		if ip4 := a.To4(); ip4 != nil {
			want[[4]byte(ip4)] = true
		}
	}
	var errs []error
	for a := range r.known {
		if !want[a] {
			if err := r.locals.Delete(a); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				errs = append(errs, err)
				continue
			}
			delete(r.known, a)
		}
	}
	for a := range want {
		if !r.known[a] {
			if err := r.locals.Put(a, uint8(1)); err != nil {
				errs = append(errs, err)
				continue
			}
			r.known[a] = true
		}
	}
	return errors.Join(errs...)
}

// Close detaches the program.
func (r *Redirector) Close() error {
	var err error
	if r.link != nil {
		err = r.link.Close()
	}
	if r.prog != nil {
		r.prog.Close()
	}
	if r.ports != nil {
		r.ports.Close()
	}
	if r.locals != nil {
		r.locals.Close()
	}
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

// CgroupRoot is the mount point of the cgroup v2 hierarchy (its root, not a
// bind of a part of it), or "" if none is mounted.
func CgroupRoot() string {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return ""
	}
	for _, m := range mounts {
		if m.Root == "/" {
			return m.Mountpoint
		}
	}
	return ""
}
