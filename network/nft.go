package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The firewall is one nftables table of family ip, owned by ctrd and touched
// by nothing else (other tables, Docker's or the user's, are never read or
// written):
//
//	table ip ctrd {
//	  chain prerouting  { type nat hook prerouting priority dstnat; fib daddr type local jump ports }
//	  chain output      { type nat hook output priority dstnat;     fib daddr type local jump ports }
//	  chain ports       { <one DNAT rule per published port, commented "ctrd:<container id> ..."> }
//	  chain postrouting { type nat hook postrouting priority srcnat;
//	      per bridge: ip saddr SUBNET oifname != BR masquerade          # outbound
//	                  oifname BR ip saddr 127.0.0.0/8 masquerade         # host -> 127.0.0.1:port
//	                  oifname BR ip saddr SUBNET ct status dnat masquerade # hairpin }
//	  chain forward     { type filter hook forward priority filter;
//	      ct state established,related accept
//	      per bridge: oifname BR iifname BR accept; oifname BR ct status dnat accept; oifname BR drop
//	      per bridge: iifname BR accept }
//	}
//
// The base chains are rebuilt in one atomic batch (add table/chains, flush,
// add rules) whenever the set of networks changes and at every start, so
// they are never duplicated. The ports chain is never flushed by that: its
// rules are per container, added by Attach and deleted by Detach in one
// batch each, found by their comment.
//
// Published ports are served by kernel DNAT only. Connections from the host
// itself to 127.0.0.1:PORT are DNATed in the output chain; their loopback
// source is allowed out of the bridge by route_localnet=1 on the bridge
// (only ours) and then masqueraded to the bridge address, so the container
// can answer.
//
// The forward chain's accepts only end this table's chain: nftables runs
// every table's base chains, so a drop in another table's forward chain
// (e.g. Docker's FORWARD policy DROP) still drops our containers' traffic.
// The drop in our chain keeps other hosts (and other networks) from
// reaching container addresses directly, unless through a published port.
type firewall struct {
	conn  *nftables.Conn
	table *nftables.Table
	pre   *nftables.Chain
	out   *nftables.Chain
	ports *nftables.Chain
	post  *nftables.Chain
	fwd   *nftables.Chain
}

const (
	chainPorts = "ports"
	tagPrefix  = "ctrd:"
)

func newFirewall(table string) (*firewall, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	accept := nftables.ChainPolicyAccept
	f := &firewall{conn: c, table: t}
	f.pre = &nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept}
	f.out = &nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept}
	f.post = &nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept}
	f.fwd = &nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	f.ports = &nftables.Chain{Name: chainPorts, Table: t}
	return f, nil
}

func (f *firewall) close() { _ = f.conn.CloseLasting() }

// bridgeNet is what the base rules need to know of one network.
type bridgeNet struct {
	bridge string
	subnet *net.IPNet
}

// sync makes the table and its base chains exactly match nets, atomically.
func (f *firewall) sync(nets []bridgeNet) error {
	sort.Slice(nets, func(i, j int) bool { return nets[i].bridge < nets[j].bridge })
	c := f.conn
	c.AddTable(f.table)
	for _, ch := range []*nftables.Chain{f.ports, f.pre, f.out, f.post, f.fwd} {
		c.AddChain(ch)
	}
	for _, ch := range []*nftables.Chain{f.pre, f.out, f.post, f.fwd} {
		c.FlushChain(ch)
	}
	jump := exprs(fibDaddrLocal(), verdict(expr.VerdictJump, chainPorts))
	c.AddRule(&nftables.Rule{Table: f.table, Chain: f.pre, Exprs: jump})
	c.AddRule(&nftables.Rule{Table: f.table, Chain: f.out, Exprs: jump})

	loop := &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}
	for _, n := range nets {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.post, Exprs: exprs(
			matchSaddr(n.subnet), matchIfname(expr.MetaKeyOIFNAME, n.bridge, false), masq())})
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.post, Exprs: exprs(
			matchIfname(expr.MetaKeyOIFNAME, n.bridge, true), matchSaddr(loop), masq())})
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.post, Exprs: exprs(
			matchIfname(expr.MetaKeyOIFNAME, n.bridge, true), matchSaddr(n.subnet), ctStatusDNAT(), masq())})
	}

	c.AddRule(&nftables.Rule{Table: f.table, Chain: f.fwd, Exprs: exprs(
		ctStateEstablished(), verdict(expr.VerdictAccept, ""))})
	for _, n := range nets {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.fwd, Exprs: exprs(
			matchIfname(expr.MetaKeyOIFNAME, n.bridge, true), matchIfname(expr.MetaKeyIIFNAME, n.bridge, true),
			verdict(expr.VerdictAccept, ""))})
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.fwd, Exprs: exprs(
			matchIfname(expr.MetaKeyOIFNAME, n.bridge, true), ctStatusDNAT(), verdict(expr.VerdictAccept, ""))})
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.fwd, Exprs: exprs(
			matchIfname(expr.MetaKeyOIFNAME, n.bridge, true), verdict(expr.VerdictDrop, ""))})
	}
	for _, n := range nets {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: f.fwd, Exprs: exprs(
			matchIfname(expr.MetaKeyIIFNAME, n.bridge, true), verdict(expr.VerdictAccept, ""))})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: set up table %s: %w", f.table.Name, err)
	}
	return nil
}

// portRule is one published port's DNAT rule, identified by its comment.
type portRule struct {
	tag string // "ctrd:<id> tcp 0.0.0.0:1216->10.88.0.2:80"
	b   PortBinding
	ip  net.IP
}

func portRuleTag(containerID string, b PortBinding, ip net.IP) string {
	return fmt.Sprintf("%s%s %s %s:%d->%s:%d", tagPrefix, containerID, b.Proto, b.HostIP, b.HostPort, ip, b.ContainerPort)
}

func tagContainer(tag string) (string, bool) {
	if !strings.HasPrefix(tag, tagPrefix) {
		return "", false
	}
	id, _, _ := strings.Cut(tag[len(tagPrefix):], " ")
	return id, id != ""
}

func wantedPortRules(ep *Endpoint) []portRule {
	ip := net.ParseIP(ep.IPAddress).To4()
	if ip == nil {
		return nil
	}
	var out []portRule
	for _, b := range ep.Ports {
		out = append(out, portRule{tag: portRuleTag(ep.ContainerID, b, ip), b: b, ip: ip})
	}
	return out
}

func protoNum(p string) byte {
	switch p {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// queueAddPort queues one DNAT rule (sent by the next flush).
func (f *firewall) queueAddPort(r portRule) {
	var ex []expr.Any
	if r.b.HostIP != "" && r.b.HostIP != "0.0.0.0" {
		ex = append(ex, matchDaddr(net.ParseIP(r.b.HostIP).To4())...)
	}
	ex = append(ex,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNum(r.b.Proto)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(r.b.HostPort))},
		&expr.Immediate{Register: 1, Data: []byte(r.ip.To4())},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(r.b.ContainerPort))},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	f.conn.AddRule(&nftables.Rule{Table: f.table, Chain: f.ports, Exprs: ex,
		UserData: userdata.AppendString(nil, userdata.TypeComment, r.tag)})
}

// existingPortRule is a rule found in the ports chain.
type existingPortRule struct {
	tag  string
	rule *nftables.Rule
}

// listPortRules returns the rules of the ports chain by container ID (rules
// without a ctrd comment under "").
func (f *firewall) listPortRules() (map[string][]existingPortRule, error) {
	rules, err := f.conn.GetRules(f.table, f.ports)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("nftables: list %s/%s: %w", f.table.Name, chainPorts, err)
	}
	out := map[string][]existingPortRule{}
	for _, r := range rules {
		tag, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		id, _ := tagContainer(tag)
		out[id] = append(out[id], existingPortRule{tag: tag, rule: r})
	}
	return out, nil
}

// queueDelete queues the deletion of rules found by listPortRules.
func (f *firewall) queueDelete(rs []existingPortRule) error {
	for _, r := range rs {
		r.rule.Table, r.rule.Chain = f.table, f.ports
		if err := f.conn.DelRule(r.rule); err != nil {
			return err
		}
	}
	return nil
}

func (f *firewall) flush() error {
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// destroy deletes the whole table (tests; ctrd itself keeps it).
func (f *firewall) destroy() error {
	f.conn.DelTable(f.table)
	return f.conn.Flush()
}

// --- expression helpers ---

func exprs(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifnameBytes(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func matchIfname(key expr.MetaKey, name string, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameBytes(name)},
	}
}

func matchSaddr(n *net.IPNet) []expr.Any { return matchNet(12, n) }

func matchNet(offset uint32, n *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(net.IP(n.Mask).To4()), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(n.IP.Mask(n.Mask).To4())},
	}
}

func matchDaddr(ip net.IP) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(ip.To4())},
	}
}

func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func ctStatusDNAT() []expr.Any {
	mask := make([]byte, 4)
	binary.NativeEndian.PutUint32(mask, 1<<5) // IPS_DST_NAT
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func ctStateEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

func verdict(k expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k, Chain: chain}}
}
