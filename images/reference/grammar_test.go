package reference

import (
	_ "crypto/sha256" // digest algorithms, as the daemon's old parser saw them
	_ "crypto/sha512"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	dref "github.com/distribution/reference"
)

// distributionParse is Parse as distribution/reference, Docker's own
// parser, does it: the grammar written out in grammar.go is held to it.
func distributionParse(s string) (Named, error) {
	if s == "" {
		return Named{}, fmt.Errorf("invalid reference format: empty name")
	}
	r, err := dref.ParseNormalizedNamed(s)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "must be lowercase") {
			msg = "repository name must be lowercase"
		}
		return Named{}, fmt.Errorf("invalid reference format %q: %s", s, strings.TrimPrefix(msg, "invalid reference format: "))
	}
	if _, ok := r.(dref.Digested); ok {
		return Named{}, fmt.Errorf("invalid reference format %q: digest references are not supported here, use a tag", s)
	}
	r = dref.TagNameOnly(r)
	tagged := r.(dref.Tagged)
	return Named{
		full:     r.String(),
		familiar: dref.FamiliarString(r),
		repo:     r.Name(),
		famRepo:  dref.FamiliarName(r),
		tag:      tagged.Tag(),
		domain:   dref.Domain(r),
		path:     dref.Path(r),
	}, nil
}

// TestParseMatchesDistribution: Parse accepts and rejects what Docker's
// parser does, with the same words, and normalises names alike.
func TestParseMatchesDistribution(t *testing.T) {
	hex64 := strings.Repeat("ab12", 16)
	cases := []string{
		"", "busybox", "busybox:latest", "Bad:Tag", "UPPER:tag", "a::b", "a:b:c", "-x", "a b",
		"x@sha256:1234", "x@sha256:" + hex64, "x:v1@sha256:" + hex64, "x@sha256:" + strings.ToUpper(hex64),
		"x@sha384:" + hex64, "x@sha384:" + hex64 + hex64[:32], "x@md5:" + hex64, "x@MD5:" + hex64,
		"x@SHA256:" + hex64, "x@sha256:" + hex64[:40], "x@sha256:" + hex64 + "00", "x@a-b+c.d_e:" + hex64,
		"x@a--b:" + hex64, "x@md5:" + hex64[:31], "x@md5:" + hex64[:32], "x@sha256:" + hex64[:31], "x@1a:" + hex64, "x@:" + hex64, "x@@sha256:" + hex64,
		hex64, hex64 + ":v1", strings.ToUpper(hex64), "sha256:" + hex64,
		"user/app:v2", "127.0.0.1:5000/debian:v1", "localhost/x", "localhost:5000/x:y", "localhost",
		"docker.io/library/centos:7", "index.docker.io/foo", "index.docker.io/foo/bar:1",
		"Foo/bar", "foo/Bar", "FOO.io/bar", "foo.io/Bar", "foo.io:/bar", "foo.io:x/bar", "foo.io:5000:1/bar",
		"[::1]:5000/x", "[::1]/x", "[]/x", "[::g]/x", "[::1/x", "::1/x", "[::1]:/x", "[fe80::1%eth0]/x",
		"a_b.c/d", "a__b", "a___b", "a-b", "a--b", "a._b", "a.", ".a", "a/", "/a", "a//b", "a_", "_a",
		"a-.b/c", "-a.b/c", "a-.com/c", "a.com-/c", "a..com/c", "a.com./c", "x.y/z_", "x:y/z",
		"x:", "x:-v", "x:.v", "x:_v", "x:v.-_", "x:" + strings.Repeat("t", 128), "x:" + strings.Repeat("t", 129),
		strings.Repeat("a", 240), strings.Repeat("a", 256), "foo.io/" + strings.Repeat("a", 255),
		"foo.io/" + strings.Repeat("a", 256), strings.Repeat("a/", 126) + "a", strings.Repeat("a/", 127) + "a",
		"\u212Aelvin", "caf\u00e9", "x\n", "x:v\n", "x y:z", "x@", "x:v@",
	}
	check := func(s string) {
		t.Helper()
		got, gerr := Parse(s)
		want, werr := distributionParse(s)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", s, got, gerr, want, werr)
		}
	}
	for _, s := range cases {
		check(s)
	}
	// Random strings over the grammar's interesting pieces.
	pieces := []string{"a", "b", "z", "0", "9", "A", "Z", "_", "__", "-", ".", ":", "/", "@", "[", "]",
		"::1", "5000", "localhost", "docker.io", "index.docker.io", "library", "sha256:", "sha512:", "SHA256:",
		"md5:", hex64[:31], hex64[:32], hex64, strings.ToUpper(hex64[:32]), " ", "é"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := 1 + rng.Intn(8); n > 0; n-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		check(b.String())
	}
}
