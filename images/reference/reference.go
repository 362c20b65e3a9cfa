// Package reference normalises image references the way Docker does:
// "centos:7" is docker.io/library/centos:7, "host:5000/x:v1" keeps its
// registry, a missing tag means "latest".
package reference

import (
	"fmt"
	"strings"

	dref "github.com/distribution/reference"
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
	r, err := dref.ParseNormalizedNamed(s)
	if err != nil {
		return Named{}, fmt.Errorf("invalid reference format %q: %s", s, explain(s, err))
	}
	if _, ok := r.(dref.Digested); ok {
		return Named{}, fmt.Errorf("invalid reference format %q: digest references are not supported here, use a tag", s)
	}
	r = dref.TagNameOnly(r)
	tagged, ok := r.(dref.Tagged)
	if !ok {
		return Named{}, fmt.Errorf("invalid reference format %q", s)
	}
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

func explain(s string, err error) string {
	msg := err.Error()
	if strings.Contains(msg, "must be lowercase") {
		return "repository name must be lowercase"
	}
	return strings.TrimPrefix(msg, "invalid reference format: ")
}
