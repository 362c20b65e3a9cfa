package network

import (
	"github.com/ctrd/ctrd/network/sockredirect"

	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"
)

// Config is the daemon's network configuration.
type Config struct {
	Bridge        string // default bridge's name, "ctr0"
	BIP           string // default bridge's address and subnet, "10.88.0.1/16"
	ExecRoot      string // netns mounts go under <ExecRoot>/netns, "/run/ctrd"
	TableName     string // ctrd's nftables table (family ip), "ctrd"
	DNSHostResolv string // the host's resolv.conf, "/etc/resolv.conf"
	MTU           int    // of bridges and veths, 1500
}

// Defaults.
const (
	DefaultBridge  = "ctr0"
	DefaultBIP     = "10.88.0.1/16"
	DefaultTable   = "ctrd"
	DefaultNetwork = "bridge" // the default bridge network's name
	HostNetwork    = "host"
	NoneNetwork    = "none"

	// ForwardingWarning is logged once, and kept in Warnings, when
	// net.ipv4.ip_forward cannot be enabled.
	ForwardingWarning = "IPv4 forwarding is disabled. Networking will not work."
)

// Network is a bridge network (or one of the pseudo networks host / none).
type Network struct {
	Name    string    `json:"Name"`
	ID      string    `json:"Id"`
	Driver  string    `json:"Driver"` // "bridge", "host" or "null"
	Bridge  string    `json:"Bridge,omitempty"`
	Subnet  string    `json:"Subnet,omitempty"`  // "10.88.0.0/16"
	Gateway string    `json:"Gateway,omitempty"` // "10.88.0.1"
	Created time.Time `json:"Created"`
	// Containers holds the containers with an address on the network, by
	// container ID; filled by Network and Networks, not stored.
	Containers map[string]NetworkContainer `json:"Containers,omitempty"`
}

// NetworkContainer is one container of a network, as `network inspect` shows it.
type NetworkContainer struct {
	Name        string `json:"Name"`
	IPv4Address string `json:"IPv4Address"` // CIDR form
	MacAddress  string `json:"MacAddress"`
	Running     bool   `json:"Running"`
}

// Endpoint is a container's place on a network: what Allocate reserved
// (persisted), what `ctr inspect` shows as NetworkSettings and what `ctr ps`
// and `ctr port` show of ports.
type Endpoint struct {
	ContainerID   string        `json:"ContainerID"`
	ContainerName string        `json:"ContainerName,omitempty"`
	Hostname      string        `json:"Hostname,omitempty"`
	Aliases       []string      `json:"Aliases,omitempty"`
	Network       string        `json:"Network"` // "bridge", "host", "none" or a user network
	NetworkID     string        `json:"NetworkID,omitempty"`
	Bridge        string        `json:"Bridge,omitempty"`
	IPAddress     string        `json:"IPAddress,omitempty"`
	PrefixLen     int           `json:"IPPrefixLen,omitempty"`
	Gateway       string        `json:"Gateway,omitempty"`
	MacAddress    string        `json:"MacAddress,omitempty"`
	Ports         []PortBinding `json:"Ports,omitempty"`   // resolved host ports
	Exposed       []string      `json:"Exposed,omitempty"` // the image's EXPOSE, for ps
	DNS           []string      `json:"DNS,omitempty"`
	DNSSearch     []string      `json:"DNSSearch,omitempty"`
	DNSOptions    []string      `json:"DNSOptions,omitempty"`
	ExtraHosts    []string      `json:"ExtraHosts,omitempty"`
	HostVeth      string        `json:"HostVeth,omitempty"`
	FilesDir      string        `json:"FilesDir,omitempty"` // where WriteFiles wrote hosts etc.
	Warnings      []string      `json:"Warnings,omitempty"` // e.g. ports discarded with --network host
	Created       time.Time     `json:"Created"`

	// NetNSPath is the namespace the endpoint is attached to; set while
	// attached (by Attach or Reconcile), never stored.
	NetNSPath string `json:"-"`
}

// UsesBridge tells whether the endpoint has an address on a bridge network.
func (ep *Endpoint) UsesBridge() bool { return ep.Network != HostNetwork && ep.Network != NoneNetwork }

// NeedsNetNS tells whether the container gets its own network namespace
// (everything but --network host).
func (ep *Endpoint) NeedsNetNS() bool { return ep.Network != HostNetwork }

// PortsString is the PORTS column of `ctr ps`.
func (ep *Endpoint) PortsString() string { return FormatPorts(ep.Ports, ep.Exposed) }

// PortMap is NetworkSettings.Ports of `ctr inspect`: "80/tcp" -> host
// bindings (exposed but unpublished ports map to nil).
func (ep *Endpoint) PortMap() map[string][]PortBinding {
	m := map[string][]PortBinding{}
	for _, e := range ep.Exposed {
		ps, err := parseExposed(e)
		if err != nil {
			continue
		}
		for _, p := range ps {
			if _, ok := m[p.Key()]; !ok {
				m[p.Key()] = nil
			}
		}
	}
	for _, b := range ep.Ports {
		m[b.Key()] = append(m[b.Key()], b)
	}
	return m
}

// PortLines is the output of `ctr port`: "80/tcp -> 0.0.0.0:1216", sorted.
func (ep *Endpoint) PortLines() []string {
	var out []string
	for _, b := range ep.Ports {
		out = append(out, fmt.Sprintf("%s -> %s", b.Key(), net.JoinHostPort(b.HostIP, strconv.Itoa(b.HostPort))))
	}
	sort.Strings(out)
	return out
}

// EndpointOptions is what `ctr run` asks of the network.
type EndpointOptions struct {
	ContainerID   string
	ContainerName string
	Hostname      string // default: the first 12 characters of the ID
	Aliases       []string
	Network       string // "bridge" (default), "host", "none" or a user network's name
	Ports         []PortBinding
	PublishAll    bool     // -P: every Exposed port on a free ephemeral host port
	Exposed       []string // "80/tcp", from the image
	DNS           []string
	DNSSearch     []string
	DNSOptions    []string
	ExtraHosts    []string // --add-host name:ip (ip may be "host-gateway")
}

// Manager owns ctrd's container networking: networks, endpoints, bridges,
// veths and the nftables table. It is safe for concurrent use.
//
// Locking: m.mu guards the in-memory state and serializes kernel changes.
// It may be taken inside a write transaction (ReleaseTx), so whoever holds
// it never starts a write transaction, and it is never taken inside a read
// transaction (a bbolt remap waiting for that reader would deadlock).
type Manager struct {
	db  *bolt.DB
	cfg Config
	fw  *firewall
	nl  *netlink.Handle

	mu        sync.Mutex
	attached  map[string]string // container ID -> netns path, of attached endpoints
	bridgeIdx map[string]int
	warnings  []string

	ephMu   sync.Mutex
	nextEph int // next ephemeral host port to try

	bg sync.WaitGroup // background deletions (veths, conntrack entries)

	// redirect sends the host's connect() to published ports straight
	// to the container (nil until a port is published, and where it
	// cannot be attached); redirectDone stops its address updates, and
	// redirectStopped is closed when they have stopped.
	redirect        *sockredirect.Redirector
	redirectTried   bool
	redirectDone    chan struct{}
	redirectStopped chan struct{}
}

// procSys is where sysctls are written, ipForwardPath the forwarding switch
// (vars for tests).
var (
	procSys       = "/proc/sys"
	ipForwardPath = "/proc/sys/net/ipv4/ip_forward"
)

// New opens the network manager: it creates its buckets, the default bridge
// network, every network's bridge and the nftables table with its base
// rules (all idempotently), and enables IPv4 forwarding.
func New(db *bolt.DB, cfg Config) (*Manager, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if cfg.BIP == "" {
		cfg.BIP = DefaultBIP
	}
	if cfg.ExecRoot == "" {
		cfg.ExecRoot = "/run/ctrd"
	}
	if cfg.TableName == "" {
		cfg.TableName = DefaultTable
	}
	if cfg.DNSHostResolv == "" {
		cfg.DNSHostResolv = "/etc/resolv.conf"
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if len(cfg.Bridge) > 15 {
		return nil, fmt.Errorf("bridge name %q is longer than 15 characters", cfg.Bridge)
	}
	gw, subnet, err := net.ParseCIDR(cfg.BIP)
	if err != nil || gw.To4() == nil {
		return nil, fmt.Errorf("invalid bip %q: want an IPv4 address with prefix length, like %s", cfg.BIP, DefaultBIP)
	}
	if ones, _ := subnet.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("invalid bip %q: subnet too small", cfg.BIP)
	}
	if gw.Equal(subnet.IP) {
		return nil, fmt.Errorf("invalid bip %q: the bridge address cannot be the network address", cfg.BIP)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	m := &Manager{db: db, cfg: cfg, nl: h, attached: map[string]string{}, bridgeIdx: map[string]int{}}
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	if m.fw, err = newFirewall(cfg.TableName); err != nil {
		return nil, err
	}
	m.nextEph, _ = ephemeralRange()

	var nets []*Network
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		def, err := b.network(DefaultNetwork)
		if err != nil {
			return err
		}
		want := Network{Name: DefaultNetwork, Driver: "bridge", Bridge: cfg.Bridge, Subnet: subnet.String(), Gateway: gw.String()}
		if def == nil {
			want.ID, want.Created = newID(), time.Now().UTC()
		} else {
			want.ID, want.Created = def.ID, def.Created
		}
		if def == nil || def.Bridge != want.Bridge || def.Subnet != want.Subnet || def.Gateway != want.Gateway {
			all, err := b.allNetworks()
			if err != nil {
				return err
			}
			for _, n := range all {
				if n.Name != DefaultNetwork && subnetsOverlap(n.Subnet, want.Subnet) {
					return fmt.Errorf("bip %s overlaps network %s (%s)", cfg.BIP, n.Name, n.Subnet)
				}
				if n.Name != DefaultNetwork && n.Bridge == cfg.Bridge {
					return fmt.Errorf("bridge %s is used by network %s", cfg.Bridge, n.Name)
				}
			}
			if err := b.putNetwork(&want); err != nil {
				return err
			}
		}
		nets, err = b.allNetworks()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("network metadata: %w", err)
	}
	m.enableForwarding()
	var bns []bridgeNet
	for _, n := range nets {
		if err := m.ensureBridge(n); err != nil {
			return nil, err
		}
		_, sn, _ := net.ParseCIDR(n.Subnet)
		bns = append(bns, bridgeNet{bridge: n.Bridge, subnet: sn})
	}
	if err := m.fw.sync(bns); err != nil {
		return nil, err
	}
	ok = true
	return m, nil
}

// Close releases the manager's sockets. Kernel objects stay: containers keep
// their networking while ctrd restarts.
func (m *Manager) Close() error {
	m.bg.Wait()
	if m.redirect != nil {
		// The host's connections to published ports go through NAT
		// until the next start attaches the redirection again.
		close(m.redirectDone)
		<-m.redirectStopped
		m.redirect.Close()
	}
	if m.fw != nil {
		m.fw.close()
	}
	if m.nl != nil {
		m.nl.Close()
	}
	return nil
}

// Warnings are problems `ctr run` should repeat to the user (forwarding off).
func (m *Manager) Warnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.warnings...)
}

// NetNSDir is the directory holding the containers' network namespaces,
// each named by its container's ID.
func (m *Manager) NetNSDir() string { return filepath.Join(m.cfg.ExecRoot, "netns") }

// NetNSPath is where the namespace of a container is mounted.
func (m *Manager) NetNSPath(containerID string) string {
	return filepath.Join(m.NetNSDir(), containerID)
}

// CreateNetNS is CreateNetNS (the package function), for symmetry.
func (m *Manager) CreateNetNS(path string) error { return CreateNetNS(path) }

// RemoveNetNS is RemoveNetNS (the package function), for symmetry.
func (m *Manager) RemoveNetNS(path string) error { return RemoveNetNS(path) }

func (m *Manager) enableForwarding() {
	p := ipForwardPath
	cur, err := os.ReadFile(p)
	if err == nil && strings.TrimSpace(string(cur)) == "1" {
		logrus.Debug("network: IPv4 forwarding is enabled")
		return
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		logrus.Warnf("%s (cannot set net.ipv4.ip_forward=1: %v)", ForwardingWarning, err)
		m.warnings = append(m.warnings, ForwardingWarning)
		return
	}
	logrus.Info("network: enabled IPv4 forwarding (net.ipv4.ip_forward=1)")
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostVethName derives the host side's name from the container ID, so that
// a veth can be found again after a crash.
func hostVethName(containerID string) string {
	s := sha256.Sum256([]byte(containerID))
	return "veth" + hex.EncodeToString(s[:])[:11]
}

// macFromIP gives the Docker-style MAC 02:42:a:b:c:d of an IPv4 address.
func macFromIP(ip net.IP) net.HardwareAddr {
	v4 := ip.To4()
	return net.HardwareAddr{0x02, 0x42, v4[0], v4[1], v4[2], v4[3]}
}

func subnetsOverlap(a, b string) bool {
	_, na, err1 := net.ParseCIDR(a)
	_, nb, err2 := net.ParseCIDR(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return netsOverlap(na, nb)
}

func netsOverlap(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// ephemeralRange is the kernel's ephemeral port range, used for -P.
func ephemeralRange() (int, int) {
	b, err := os.ReadFile(filepath.Join(procSys, "net/ipv4/ip_local_port_range"))
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, e1 := strconv.Atoi(f[0])
			hi, e2 := strconv.Atoi(f[1])
			if e1 == nil && e2 == nil && lo > 0 && hi <= 65535 && lo <= hi {
				return lo, hi
			}
		}
	}
	return 32768, 60999
}

// --- networks ---

// Networks lists the networks: bridge, host, none and the user networks.
func (m *Manager) Networks() ([]Network, error) {
	var nets []*Network
	var eps []*Endpoint
	err := m.db.View(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		if nets, err = b.allNetworks(); err != nil {
			return err
		}
		eps, err = b.allEndpoints()
		return err
	})
	if err != nil {
		return nil, err
	}
	// (m.mu is never taken inside a transaction: see Manager)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Network
	for _, n := range nets {
		out = append(out, m.withContainers(*n, eps))
	}
	out = append(out, m.withContainers(pseudoNetwork(HostNetwork), eps), m.withContainers(pseudoNetwork(NoneNetwork), eps))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Network returns one network by name (or by ID or a unique ID prefix).
func (m *Manager) Network(name string) (Network, error) {
	nets, err := m.Networks()
	if err != nil {
		return Network{}, err
	}
	var match []Network
	for _, n := range nets {
		if n.Name == name {
			return n, nil
		}
		if len(name) >= 3 && strings.HasPrefix(n.ID, name) {
			match = append(match, n)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return Network{}, fmt.Errorf("network %s not found", name)
}

func pseudoNetwork(name string) Network {
	d := "host"
	if name == NoneNetwork {
		d = "null"
	}
	s := sha256.Sum256([]byte("ctrd-pseudo-network-" + name))
	return Network{Name: name, ID: hex.EncodeToString(s[:]), Driver: d}
}

func (m *Manager) withContainers(n Network, eps []*Endpoint) Network {
	for _, ep := range eps {
		if ep.Network != n.Name {
			continue
		}
		if n.Containers == nil {
			n.Containers = map[string]NetworkContainer{}
		}
		c := NetworkContainer{Name: ep.ContainerName, MacAddress: ep.MacAddress}
		if ep.IPAddress != "" {
			c.IPv4Address = fmt.Sprintf("%s/%d", ep.IPAddress, ep.PrefixLen)
		}
		_, c.Running = m.attached[ep.ContainerID]
		n.Containers[ep.ContainerID] = c
	}
	return n
}

// user network subnets are picked from 10.89.0.0/16 .. in /24s when
// `network create` gives none.
var autoSubnetBase = net.IPv4(10, 89, 0, 0).To4()

// CreateNetwork creates a user bridge network. subnet and gateway may be
// empty: a free /24 of 10.89.0.0/16 and its first address are taken.
func (m *Manager) CreateNetwork(name, subnet, gateway string) (Network, error) {
	if err := validNetworkName(name); err != nil {
		return Network{}, err
	}
	hostNets, err := m.hostRoutes()
	if err != nil {
		return Network{}, err
	}
	var n Network
	err = m.db.Update(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		if old, err := b.network(name); err != nil {
			return err
		} else if old != nil {
			return fmt.Errorf("network with name %s already exists", name)
		}
		all, err := b.allNetworks()
		if err != nil {
			return err
		}
		taken := func(sn *net.IPNet) string {
			for _, o := range all {
				if subnetsOverlap(o.Subnet, sn.String()) {
					return fmt.Sprintf("network %s (%s)", o.Name, o.Subnet)
				}
			}
			for _, r := range hostNets {
				if netsOverlap(r.dst, sn) {
					return fmt.Sprintf("the host's route %s dev %s", r.dst, r.dev)
				}
			}
			return ""
		}
		var sn *net.IPNet
		if subnet == "" {
			for i := 0; i < 256 && sn == nil; i++ {
				c := &net.IPNet{IP: net.IPv4(autoSubnetBase[0], autoSubnetBase[1], byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
				if taken(c) == "" {
					sn = c
				}
			}
			if sn == nil {
				return errors.New("no free subnet left in 10.89.0.0/16: give one with --subnet")
			}
		} else {
			ip, p, err := net.ParseCIDR(subnet)
			if err != nil || ip.To4() == nil {
				return fmt.Errorf("invalid subnet %q: want an IPv4 CIDR like 10.90.0.0/24", subnet)
			}
			if ones, _ := p.Mask.Size(); ones > 30 {
				return fmt.Errorf("invalid subnet %s: too small (at most /30)", subnet)
			}
			if !ip.Equal(p.IP) {
				return fmt.Errorf("invalid subnet %s: host bits set (did you mean %s?)", subnet, p)
			}
			if t := taken(p); t != "" {
				return fmt.Errorf("subnet %s overlaps %s", p, t)
			}
			sn = p
		}
		var gw net.IP
		if gateway == "" {
			gw = u32ToIP4(ip4ToU32(sn.IP) + 1)
		} else {
			gw = net.ParseIP(gateway).To4()
			if gw == nil {
				return fmt.Errorf("invalid gateway %q: not an IPv4 address", gateway)
			}
			bcast := u32ToIP4(ip4ToU32(sn.IP) | ^ip4ToU32(net.IP(sn.Mask)))
			if !sn.Contains(gw) || gw.Equal(sn.IP) || gw.Equal(bcast) {
				return fmt.Errorf("invalid gateway %s: not a host address of subnet %s", gw, sn)
			}
		}
		id := newID()
		n = Network{Name: name, ID: id, Driver: "bridge", Bridge: "ctr-" + id[:11], Subnet: sn.String(),
			Gateway: gw.String(), Created: time.Now().UTC()}
		return b.putNetwork(&n)
	})
	if err != nil {
		return Network{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	err = m.ensureBridge(&n)
	if err == nil {
		err = m.syncFirewall()
	}
	if err != nil {
		m.deleteBridge(n.Bridge)
		m.mu.Unlock()
		_ = m.deleteNetworkRecord(name)
		m.mu.Lock()
		_ = m.syncFirewall()
		return Network{}, err
	}
	return n, nil
}

func validNetworkName(name string) error {
	switch name {
	case "":
		return errors.New("network name is empty")
	case DefaultNetwork, HostNetwork, NoneNetwork, "default":
		return fmt.Errorf("%s is a pre-defined network name", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
		}
	}
	return nil
}

func (m *Manager) deleteNetworkRecord(name string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		if n, _ := b.network(name); n != nil {
			_ = b.ips.DeleteBucket([]byte(n.ID))
			_ = b.ipnext.Delete([]byte(n.ID))
		}
		return b.networks.Delete([]byte(name))
	})
}

// RemoveNetwork removes a user network, its bridge and rules; refused while
// containers have an address on it.
func (m *Manager) RemoveNetwork(name string) error {
	switch name {
	case DefaultNetwork, HostNetwork, NoneNetwork:
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", name)
	}
	var n *Network
	err := m.db.Update(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		if n, err = b.network(name); err != nil {
			return err
		}
		if n == nil {
			return fmt.Errorf("network %s not found", name)
		}
		eps, err := b.allEndpoints()
		if err != nil {
			return err
		}
		var users []string
		for _, ep := range eps {
			if ep.Network == name {
				users = append(users, displayName(ep))
			}
		}
		if len(users) > 0 {
			sort.Strings(users)
			return fmt.Errorf("network %s has containers attached: %s (remove them or their network first)", name, strings.Join(users, ", "))
		}
		_ = b.ips.DeleteBucket([]byte(n.ID))
		_ = b.ipnext.Delete([]byte(n.ID))
		return b.networks.Delete([]byte(name))
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.syncFirewall(); err != nil {
		return err
	}
	m.deleteBridge(n.Bridge)
	return nil
}

func displayName(ep *Endpoint) string {
	if ep.ContainerName != "" {
		return strings.TrimPrefix(ep.ContainerName, "/")
	}
	if len(ep.ContainerID) > 12 {
		return ep.ContainerID[:12]
	}
	return ep.ContainerID
}

// syncFirewall rebuilds the base rules from the stored networks.
func (m *Manager) syncFirewall() error {
	var bns []bridgeNet
	err := m.db.View(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		nets, err := b.allNetworks()
		for _, n := range nets {
			if _, sn, err := net.ParseCIDR(n.Subnet); err == nil {
				bns = append(bns, bridgeNet{bridge: n.Bridge, subnet: sn})
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return m.fw.sync(bns)
}
