package spec

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
)

// defaultCaps is Docker's default capability set, in Docker's order.
var defaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// DefaultCapabilities returns Docker's 14 default capabilities, with their
// "CAP_" prefix as the OCI spec wants them.
func DefaultCapabilities() []string {
	return slices.Clone(defaultCaps)
}

var (
	knownCapsOnce sync.Once
	knownCaps     map[string]bool // every name capability knows, CAP_ prefixed
	allCapsList   []string        // "ALL" on this host
)

// allCapsHook can be replaced by tests.
var allCapsHook = hostAllCapabilities

func loadCaps() {
	knownCapsOnce.Do(func() {
		knownCaps = map[string]bool{}
		for _, c := range capability.ListKnown() {
			knownCaps["CAP_"+strings.ToUpper(c.String())] = true
		}
		allCapsList = allCapsHook()
	})
}

// hostAllCapabilities is what "ALL" (and --privileged) means here: every
// capability the running kernel supports and that this process still has in
// its bounding set. A container can never get a capability its parent lacks
// (capset would fail with EPERM, e.g. CAP_SYS_RESOURCE on this project's
// machines), so asking for one would only make the start fail.
func hostAllCapabilities() []string {
	list, err := capability.ListSupported()
	if err != nil {
		list = capability.ListKnown()
	}
	var bounding capability.Capabilities
	if c, err := capability.NewPid2(0); err == nil && c.Load() == nil {
		bounding = c
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		if bounding != nil && !bounding.Get(capability.BOUNDING, c) {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// allCapabilities returns a copy of the host's "ALL" set.
func allCapabilities() []string {
	loadCaps()
	return slices.Clone(allCapsList)
}

// normalizeCaps turns "net_admin", "NET_ADMIN", "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN"; "ALL" stays "ALL". Unknown names are an error.
func normalizeCaps(in []string) ([]string, error) {
	loadCaps()
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" || c == "CAP_ALL" {
			out = append(out, "ALL")
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !knownCaps[c] {
			return nil, fmt.Errorf("unknown capability: %q", c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// tweakCapabilities applies --privileged, --cap-add and --cap-drop to base,
// the way Docker does:
//   - privileged: everything;
//   - add ALL: everything except what is dropped;
//   - drop ALL: only what is added;
//   - otherwise base minus drops plus adds.
func tweakCapabilities(base, adds, drops []string, privileged bool) ([]string, error) {
	if privileged {
		return allCapabilities(), nil
	}
	if len(adds) == 0 && len(drops) == 0 {
		return slices.Clone(base), nil
	}
	add, err := normalizeCaps(adds)
	if err != nil {
		return nil, err
	}
	drop, err := normalizeCaps(drops)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range allCapabilities() {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		for _, c := range add {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	default:
		for _, c := range base {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range add {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}
