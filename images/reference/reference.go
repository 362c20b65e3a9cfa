// Package reference normalises image references the way Docker does:
// "centos:7" is docker.io/library/centos:7, "host:5000/x:v1" keeps its
// registry, a missing tag means "latest".
package reference

import (
	"fmt"
	"strings"
)

// Named is a normalised, tagged reference.
type Named struct {
	full     string // docker.io/library/centos:7
	familiar string // centos:7
	repo     string // docker.io/library/centos
	famRepo  string // centos
	tag      string
	domain   string
	path     string
}

// String is the fully qualified form, used as the storage key.
func (n Named) String() string { return n.full }

// Familiar is the short form users type and `ctr images` shows.
func (n Named) Familiar() string { return n.familiar }

// Repository is the fully qualified name without tag.
func (n Named) Repository() string { return n.repo }

// FamiliarRepository is the short repository name ("centos", "127.0.0.1:5000/debian").
func (n Named) FamiliarRepository() string { return n.famRepo }

// Tag is the tag ("latest" when none was given).
func (n Named) Tag() string { return n.tag }

// Domain is the registry host ("docker.io", "127.0.0.1:5000").
func (n Named) Domain() string { return n.domain }

// Path is the repository path inside the registry ("library/centos").
func (n Named) Path() string { return n.path }

// Parse parses and normalises a reference. Digests are not accepted here:
// ctrd names local images by tag or ID.
func Parse(s string) (Named, error) {
	if s == "" {
		return Named{}, fmt.Errorf("invalid reference format: empty name")
	}
	if msg := problem(s); msg != "" {
		return Named{}, fmt.Errorf("invalid reference format %q: %s", s, msg)
	}
	domain, remainder := splitDomain(s)
	name, tag := domain+"/"+remainder, "latest"
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	// A first component that looks like a host but is not a valid one is
	// part of the path, under no domain (as Docker's parser has it).
	path, _, _ := matchReference(name)
	domain = strings.TrimSuffix(strings.TrimSuffix(name, path), "/")
	repo, famRepo := name, name
	if domain == defaultDomain {
		famRepo = path
		if short, ok := strings.CutPrefix(path, "library/"); ok && !strings.Contains(short, "/") {
			famRepo = short
		}
	}
	return Named{
		full:     repo + ":" + tag,
		familiar: famRepo + ":" + tag,
		repo:     repo,
		famRepo:  famRepo,
		tag:      tag,
		domain:   domain,
		path:     path,
	}, nil
}

// MustParse is Parse for constants in tests.
func MustParse(s string) Named {
	n, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

// FamiliarString shortens a fully qualified reference for display; strings
// that do not parse are returned unchanged.
func FamiliarString(full string) string {
	n, err := Parse(full)
	if err != nil {
		return full
	}
	return n.familiar
}
