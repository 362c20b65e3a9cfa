package network

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// PortBinding publishes one container port on one host port.
//
// ParsePortSpecs fills HostPort with 0 when the host port is to be picked by
// Allocate (a free ephemeral port), and HostPortEnd when the spec gave a host
// range for a single container port ("8000-8010:80": the first free port of
// the range is taken). In an allocated Endpoint, HostPort is always set and
// HostPortEnd is 0.
type PortBinding struct {
	HostIP        string `json:"HostIp"` // "0.0.0.0": every address of the host
	HostPort      int    `json:"HostPort"`
	HostPortEnd   int    `json:"HostPortEnd,omitempty"`
	ContainerPort int    `json:"ContainerPort"`
	Proto         string `json:"Proto"` // tcp, udp or sctp
}

// String formats a binding the way `docker ps` does: 0.0.0.0:1216->80/tcp.
func (b PortBinding) String() string {
	return fmt.Sprintf("%s->%d/%s", net.JoinHostPort(b.HostIP, strconv.Itoa(b.HostPort)), b.ContainerPort, b.Proto)
}

// Key is the port's name in an image config and in `ctr port`: "80/tcp".
func (b PortBinding) Key() string { return fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto) }

// ParsePortSpecs parses -p values: [IP:][HOSTPORT[-END]:]CPORT[-END][/tcp|udp|sctp].
// It is pure: whether a host port is free is decided by Allocate.
func ParsePortSpecs(specs []string) ([]PortBinding, error) {
	var out []PortBinding
	for _, s := range specs {
		b, err := parsePortSpec(s)
		if err != nil {
			return nil, fmt.Errorf("invalid port spec %q: %w", s, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

func parsePortSpec(spec string) ([]PortBinding, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, fmt.Errorf("empty")
	}
	proto := "tcp"
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		proto = strings.ToLower(s[i+1:])
		s = s[:i]
		if err := checkProto(proto); err != nil {
			return nil, err
		}
	}
	hostIP := ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return nil, fmt.Errorf("unterminated IPv6 address")
		}
		return nil, fmt.Errorf("IPv6 host address %s: only IPv4 is supported", s[1:end])
	}
	parts := strings.Split(s, ":")
	var hostPart, ctrPart string
	switch len(parts) {
	case 1:
		ctrPart = parts[0]
	case 2:
		hostPart, ctrPart = parts[0], parts[1]
	case 3:
		hostIP, hostPart, ctrPart = parts[0], parts[1], parts[2]
		if hostIP == "" {
			return nil, fmt.Errorf("empty host IP")
		}
	default:
		return nil, fmt.Errorf("too many colons (an IPv6 host address? only IPv4 is supported)")
	}
	if hostIP == "" {
		hostIP = "0.0.0.0"
	} else {
		ip := net.ParseIP(hostIP)
		if ip == nil {
			return nil, fmt.Errorf("invalid host IP %q", hostIP)
		}
		if ip.To4() == nil {
			return nil, fmt.Errorf("IPv6 host address %s: only IPv4 is supported", hostIP)
		}
		hostIP = ip.To4().String()
	}
	cStart, cEnd, err := parsePortRange(ctrPart, "container port", false)
	if err != nil {
		return nil, err
	}
	hStart, hEnd := 0, 0
	if hostPart != "" {
		if hStart, hEnd, err = parsePortRange(hostPart, "host port", true); err != nil {
			return nil, err
		}
	}
	var out []PortBinding
	n := cEnd - cStart + 1
	switch {
	case hostPart == "" || hStart == 0:
		for i := 0; i < n; i++ {
			out = append(out, PortBinding{HostIP: hostIP, ContainerPort: cStart + i, Proto: proto})
		}
	case n == 1 && hEnd > hStart:
		out = append(out, PortBinding{HostIP: hostIP, HostPort: hStart, HostPortEnd: hEnd, ContainerPort: cStart, Proto: proto})
	case hEnd-hStart+1 != n:
		return nil, fmt.Errorf("host port range %s (%d ports) and container port range %s (%d ports) differ in length",
			hostPart, hEnd-hStart+1, ctrPart, n)
	default:
		for i := 0; i < n; i++ {
			out = append(out, PortBinding{HostIP: hostIP, HostPort: hStart + i, ContainerPort: cStart + i, Proto: proto})
		}
	}
	return out, nil
}

func checkProto(p string) error {
	switch p {
	case "tcp", "udp", "sctp":
		return nil
	}
	return fmt.Errorf("invalid protocol %q (use tcp, udp or sctp)", p)
}

// parsePortRange parses "80" or "9000-9002". allowZero accepts a lone "0"
// (host port picked by the daemon).
func parsePortRange(s, what string, allowZero bool) (int, int, error) {
	if s == "" {
		return 0, 0, fmt.Errorf("missing %s", what)
	}
	lo, hi, isRange := strings.Cut(s, "-")
	start, err := parsePort(lo, what, allowZero && !isRange)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	end, err := parsePort(hi, what, false)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid %s range %s: end is below start", what, s)
	}
	return start, end, nil
}

func parsePort(s, what string, allowZero bool) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: not a number", what, s)
	}
	if n == 0 && allowZero {
		return 0, nil
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid %s %d: must be between 1 and 65535", what, n)
	}
	return n, nil
}

// parseExposed parses an image's exposed port ("80/tcp", "53/udp", "80",
// "9000-9002/tcp") into container ports.
func parseExposed(s string) ([]PortBinding, error) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if err := checkProto(proto); err != nil {
		return nil, fmt.Errorf("exposed port %q: %w", s, err)
	}
	start, end, err := parsePortRange(port, "exposed port", false)
	if err != nil {
		return nil, err
	}
	var out []PortBinding
	for p := start; p <= end; p++ {
		out = append(out, PortBinding{HostIP: "0.0.0.0", ContainerPort: p, Proto: proto})
	}
	return out, nil
}

// FormatPorts renders an endpoint's ports for the PORTS column of `ctr ps`,
// like Docker: consecutive ports are folded into ranges
// ("0.0.0.0:9000-9002->9000-9002/tcp"), exposed but unpublished ports are
// listed as "80/tcp".
func FormatPorts(bindings []PortBinding, exposed []string) string {
	bs := append([]PortBinding(nil), bindings...)
	sort.Slice(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		return a.HostPort < b.HostPort
	})
	published := map[string]bool{}
	var parts []string
	for i := 0; i < len(bs); {
		j := i
		for j+1 < len(bs) && bs[j+1].Proto == bs[i].Proto && bs[j+1].HostIP == bs[i].HostIP &&
			bs[j+1].ContainerPort == bs[j].ContainerPort+1 && bs[j+1].HostPort == bs[j].HostPort+1 {
			j++
		}
		for k := i; k <= j; k++ {
			published[bs[k].Key()] = true
		}
		if i == j {
			parts = append(parts, bs[i].String())
		} else {
			parts = append(parts, fmt.Sprintf("%s:%d-%d->%d-%d/%s", bs[i].HostIP, bs[i].HostPort, bs[j].HostPort,
				bs[i].ContainerPort, bs[j].ContainerPort, bs[i].Proto))
		}
		i = j + 1
	}
	var unpub []string
	for _, e := range exposed {
		ps, err := parseExposed(e)
		if err != nil {
			continue
		}
		for _, p := range ps {
			if !published[p.Key()] {
				published[p.Key()] = true
				unpub = append(unpub, p.Key())
			}
		}
	}
	sort.Strings(unpub)
	return strings.Join(append(unpub, parts...), ", ")
}
