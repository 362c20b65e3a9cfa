package network

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePortSpecs(t *testing.T) {
	pb := func(ip string, hp, hpe, cp int, proto string) PortBinding {
		return PortBinding{HostIP: ip, HostPort: hp, HostPortEnd: hpe, ContainerPort: cp, Proto: proto}
	}
	cases := []struct {
		spec string
		want []PortBinding
	}{
		{"80", []PortBinding{pb("0.0.0.0", 0, 0, 80, "tcp")}},
		{"1216:80", []PortBinding{pb("0.0.0.0", 1216, 0, 80, "tcp")}},
		{"1216:80/tcp", []PortBinding{pb("0.0.0.0", 1216, 0, 80, "tcp")}},
		{"5353:53/udp", []PortBinding{pb("0.0.0.0", 5353, 0, 53, "udp")}},
		{"5353:53/UDP", []PortBinding{pb("0.0.0.0", 5353, 0, 53, "udp")}},
		{"9:9/sctp", []PortBinding{pb("0.0.0.0", 9, 0, 9, "sctp")}},
		{"127.0.0.1:8080:80/tcp", []PortBinding{pb("127.0.0.1", 8080, 0, 80, "tcp")}},
		{"127.0.0.1::80", []PortBinding{pb("127.0.0.1", 0, 0, 80, "tcp")}},
		{"0:80", []PortBinding{pb("0.0.0.0", 0, 0, 80, "tcp")}},
		{"9000-9002:9000-9002", []PortBinding{
			pb("0.0.0.0", 9000, 0, 9000, "tcp"), pb("0.0.0.0", 9001, 0, 9001, "tcp"), pb("0.0.0.0", 9002, 0, 9002, "tcp")}},
		{"8000-8001:80-81/udp", []PortBinding{pb("0.0.0.0", 8000, 0, 80, "udp"), pb("0.0.0.0", 8001, 0, 81, "udp")}},
		{"9000-9001", []PortBinding{pb("0.0.0.0", 0, 0, 9000, "tcp"), pb("0.0.0.0", 0, 0, 9001, "tcp")}},
		{"8000-8010:80", []PortBinding{pb("0.0.0.0", 8000, 8010, 80, "tcp")}},
		{"10.0.0.1:65535:1", []PortBinding{pb("10.0.0.1", 65535, 0, 1, "tcp")}},
	}
	for _, c := range cases {
		got, err := ParsePortSpecs([]string{c.spec})
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.spec, got, c.want)
		}
	}
	bad := map[string]string{
		"99999:80":            "host port 99999: must be between 1 and 65535",
		"80:99999":            "container port 99999",
		"abc":                 `container port "abc": not a number`,
		"80:80/foo":           `invalid protocol "foo"`,
		"9000-9002:80-81":     "differ in length",
		"9000:80-81":          "differ in length",
		"9002-9000:80":        "end is below start",
		"0":                   "container port 0",
		"":                    "empty",
		"1.2.3:80:80":         `invalid host IP "1.2.3"`,
		"[::1]:80:80":         "only IPv4",
		"::1:80:80":           "too many colons",
		":80:80":              "empty host IP",
		"80:":                 "missing container port",
		"127.0.0.1:80:80/":    `invalid protocol ""`,
		"1-2-3:80":            "not a number",
		"127.0.0.1:0-5:80-85": "invalid host port 0",
	}
	for spec, want := range bad {
		_, err := ParsePortSpecs([]string{"1:1", spec})
		if err == nil {
			t.Errorf("%q: no error", spec)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "invalid port spec") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q, want one line containing %q", spec, err, want)
		}
	}
}

func TestFormatPorts(t *testing.T) {
	ps, err := ParsePortSpecs([]string{"9000-9002:9000-9002", "127.0.0.1:8080:80", "5353:53/udp", "1216:80"})
	if err != nil {
		t.Fatal(err)
	}
	got := FormatPorts(ps, []string{"80/tcp", "443/tcp", "53/udp"})
	want := "443/tcp, 0.0.0.0:1216->80/tcp, 0.0.0.0:9000-9002->9000-9002/tcp, 127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	ep := &Endpoint{Ports: ps, Exposed: []string{"443"}}
	if lines := ep.PortLines(); len(lines) != 6 || lines[0] != "53/udp -> 0.0.0.0:5353" {
		t.Errorf("PortLines: %q", lines)
	}
	pm := ep.PortMap()
	if b, ok := pm["443/tcp"]; !ok || b != nil {
		t.Errorf("PortMap 443/tcp: %v %v", b, ok)
	}
	if len(pm["80/tcp"]) != 2 {
		t.Errorf("PortMap 80/tcp: %v", pm["80/tcp"])
	}
}

func TestParseProcAddr(t *testing.T) {
	ip, port, ok := parseProcAddr("0100007F:0CF9")
	if !ok || ip.String() != "127.0.0.1" || port != 3321 {
		t.Errorf("v4: %v %d %v", ip, port, ok)
	}
	ip, port, ok = parseProcAddr("00000000000000000000000000000000:0050")
	if !ok || !ip.IsUnspecified() || port != 80 {
		t.Errorf("v6 any: %v %d %v", ip, port, ok)
	}
	ip, _, ok = parseProcAddr("0000000000000000FFFF00000100007F:0050")
	if !ok || ip.String() != "127.0.0.1" {
		t.Errorf("v4-mapped: %v %v", ip, ok)
	}
	s := hostSocket{ip: ip, port: 80}
	if !s.conflicts("0.0.0.0", 80) || !s.conflicts("127.0.0.1", 80) || s.conflicts("10.0.0.1", 80) || s.conflicts("127.0.0.1", 81) {
		t.Error("conflicts of 127.0.0.1:80 wrong")
	}
}
