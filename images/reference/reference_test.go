package reference

import "testing"

func TestParse(t *testing.T) {
	cases := []struct {
		in, full, familiar, repo, tag, domain string
	}{
		{"centos:7", "docker.io/library/centos:7", "centos:7", "centos", "7", "docker.io"},
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest", "busybox", "latest", "docker.io"},
		{"user/app:v2", "docker.io/user/app:v2", "user/app:v2", "user/app", "v2", "docker.io"},
		{"127.0.0.1:5000/debian:v1", "127.0.0.1:5000/debian:v1", "127.0.0.1:5000/debian:v1", "127.0.0.1:5000/debian", "v1", "127.0.0.1:5000"},
		{"localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost/x", "latest", "localhost"},
		{"docker.io/library/centos:7", "docker.io/library/centos:7", "centos:7", "centos", "7", "docker.io"},
	}
	for _, c := range cases {
		n, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if n.String() != c.full || n.Familiar() != c.familiar || n.FamiliarRepository() != c.repo || n.Tag() != c.tag || n.Domain() != c.domain {
			t.Errorf("Parse(%q) = %q %q %q %q %q, want %q %q %q %q %q", c.in,
				n.String(), n.Familiar(), n.FamiliarRepository(), n.Tag(), n.Domain(),
				c.full, c.familiar, c.repo, c.tag, c.domain)
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, s := range []string{"", "UPPER:tag", "a::b", "a:b:c", "-x", "x@sha256:1234", "a b"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", s)
		}
	}
}
