package network

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bbolt layout, all under the top-level bucket "network" of the daemon's
// metadata database:
//
//	network/networks/<name>           Network (JSON)
//	network/endpoints/<containerID>   Endpoint (JSON)
//	network/ips/<networkID>/<ip>      containerID holding the address
//	network/ipnext/<networkID>        last address handed out (4 bytes)
//	network/ports/<proto>/<port>/<ip> containerID publishing the host port
//
// Every allocation is written in one transaction together with the endpoint
// record, so after a crash an address or port is either held by a recorded
// endpoint or free: never handed out twice.
var (
	bktRoot      = []byte("network")
	bktNetworks  = []byte("networks")
	bktEndpoints = []byte("endpoints")
	bktIPs       = []byte("ips")
	bktIPNext    = []byte("ipnext")
	bktPorts     = []byte("ports")
)

type buckets struct {
	networks, endpoints, ips, ipnext, ports *bolt.Bucket
}

func initBuckets(tx *bolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists(bktRoot)
	if err != nil {
		return err
	}
	for _, n := range [][]byte{bktNetworks, bktEndpoints, bktIPs, bktIPNext, bktPorts} {
		if _, err := root.CreateBucketIfNotExists(n); err != nil {
			return err
		}
	}
	return nil
}

func getBuckets(tx *bolt.Tx) (*buckets, error) {
	root := tx.Bucket(bktRoot)
	if root == nil {
		return nil, errors.New("network metadata buckets missing")
	}
	return &buckets{
		networks:  root.Bucket(bktNetworks),
		endpoints: root.Bucket(bktEndpoints),
		ips:       root.Bucket(bktIPs),
		ipnext:    root.Bucket(bktIPNext),
		ports:     root.Bucket(bktPorts),
	}, nil
}

func (b *buckets) network(name string) (*Network, error) {
	v := b.networks.Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	var n Network
	if err := json.Unmarshal(v, &n); err != nil {
		return nil, fmt.Errorf("network %s: corrupt record: %w", name, err)
	}
	return &n, nil
}

func (b *buckets) putNetwork(n *Network) error {
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return b.networks.Put([]byte(n.Name), v)
}

func (b *buckets) allNetworks() ([]*Network, error) {
	var out []*Network
	err := b.networks.ForEach(func(k, v []byte) error {
		var n Network
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("network %s: corrupt record: %w", k, err)
		}
		out = append(out, &n)
		return nil
	})
	return out, err
}

func (b *buckets) endpoint(id string) (*Endpoint, error) {
	v := b.endpoints.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var ep Endpoint
	if err := json.Unmarshal(v, &ep); err != nil {
		return nil, fmt.Errorf("endpoint %s: corrupt record: %w", id, err)
	}
	return &ep, nil
}

func (b *buckets) putEndpoint(ep *Endpoint) error {
	v, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	return b.endpoints.Put([]byte(ep.ContainerID), v)
}

func (b *buckets) allEndpoints() ([]*Endpoint, error) {
	var out []*Endpoint
	err := b.endpoints.ForEach(func(k, v []byte) error {
		var ep Endpoint
		if err := json.Unmarshal(v, &ep); err != nil {
			return fmt.Errorf("endpoint %s: corrupt record: %w", k, err)
		}
		out = append(out, &ep)
		return nil
	})
	return out, err
}

// --- IPAM ---

func ip4ToU32(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func u32ToIP4(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}

// allocateIP hands out the next free address of the network after the last
// one handed out (so a just-released address is not reused at once), skipping
// the network and broadcast addresses and the gateway.
func (b *buckets) allocateIP(n *Network, containerID string) (net.IP, error) {
	_, ipn, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network %s: bad subnet %q", n.Name, n.Subnet)
	}
	ones, bits := ipn.Mask.Size()
	if bits != 32 || ones > 30 {
		return nil, fmt.Errorf("network %s: subnet %s too small", n.Name, n.Subnet)
	}
	sub, err := b.ips.CreateBucketIfNotExists([]byte(n.ID))
	if err != nil {
		return nil, err
	}
	base := ip4ToU32(ipn.IP)
	size := uint32(1) << uint(32-ones)
	gw := uint32(0)
	if g := net.ParseIP(n.Gateway); g != nil && g.To4() != nil {
		gw = ip4ToU32(g)
	}
	first, last := base+1, base+size-2
	start := first
	if v := b.ipnext.Get([]byte(n.ID)); len(v) == 4 {
		if p := binary.BigEndian.Uint32(v); p >= first && p < last {
			start = p + 1
		}
	}
	cur := start
	for i := uint32(0); i < size-2; i++ {
		if cur != gw && sub.Get([]byte(u32ToIP4(cur).String())) == nil {
			ip := u32ToIP4(cur)
			if err := sub.Put([]byte(ip.String()), []byte(containerID)); err != nil {
				return nil, err
			}
			if err := b.ipnext.Put([]byte(n.ID), ip.To4()); err != nil {
				return nil, err
			}
			return ip, nil
		}
		cur++
		if cur > last {
			cur = first
		}
	}
	return nil, fmt.Errorf("no available IPv4 addresses in network %s (%s)", n.Name, n.Subnet)
}

func (b *buckets) releaseIP(networkID, ip, containerID string) error {
	sub := b.ips.Bucket([]byte(networkID))
	if sub == nil || ip == "" {
		return nil
	}
	if v := sub.Get([]byte(ip)); v != nil && string(v) == containerID {
		return sub.Delete([]byte(ip))
	}
	return nil
}

// --- host ports ---

func portKey(proto string, port int, hostIP string) []byte {
	return []byte(proto + "/" + strconv.Itoa(port) + "/" + hostIP)
}

// portHolder returns the container publishing proto/port on an address that
// overlaps hostIP (0.0.0.0 overlaps every address), or "".
func (b *buckets) portHolder(proto string, port int, hostIP string) (holder, heldIP string) {
	prefix := []byte(proto + "/" + strconv.Itoa(port) + "/")
	c := b.ports.Cursor()
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		ip := string(k[len(prefix):])
		if ip == hostIP || ip == "0.0.0.0" || hostIP == "0.0.0.0" {
			return string(v), ip
		}
	}
	return "", ""
}

func (b *buckets) releasePorts(ep *Endpoint) error {
	for _, p := range ep.Ports {
		k := portKey(p.Proto, p.HostPort, p.HostIP)
		if v := b.ports.Get(k); v != nil && string(v) == ep.ContainerID {
			if err := b.ports.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}
