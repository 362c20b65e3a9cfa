package spec

import (
	"fmt"
	"strings"

	"github.com/ctrd/ctrd/runtime/rlimit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultNofile is the RLIMIT_NOFILE Docker containers get (soft and hard),
// before clamping to what the host allows.
const DefaultNofile = 1048576

// hostHardLimit returns this process's hard limit for resource (which the
// container inherits and cannot exceed without CAP_SYS_RESOURCE). Tests
// replace it.
var hostHardLimit = func(resource int) (uint64, bool) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return 0, false
	}
	return rl.Max, true
}

// normalizeRlimitType accepts "nofile", "NOFILE", "RLIMIT_NOFILE".
func normalizeRlimitType(t string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(t))
	if !strings.HasPrefix(n, "RLIMIT_") {
		n = "RLIMIT_" + n
	}
	if _, ok := rlimit.Resource(n); !ok {
		return "", fmt.Errorf("unknown ulimit type %q", t)
	}
	return n, nil
}

// buildRlimits returns Docker's default nofile limit overridden by the user's
// ulimits (same type replaces), every value clamped to the host's hard limit
// for that resource. hostNofile, when non-zero, is used as the hard limit of
// RLIMIT_NOFILE instead of asking getrlimit.
func buildRlimits(user []specs.POSIXRlimit, hostNofile uint64) ([]specs.POSIXRlimit, error) {
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: DefaultNofile, Hard: DefaultNofile}}
	for _, u := range user {
		t, err := normalizeRlimitType(u.Type)
		if err != nil {
			return nil, err
		}
		if u.Soft > u.Hard {
			return nil, fmt.Errorf("ulimit %s: soft limit %d is greater than hard limit %d", strings.ToLower(strings.TrimPrefix(t, "RLIMIT_")), u.Soft, u.Hard)
		}
		u.Type = t
		replaced := false
		for i := range out {
			if out[i].Type == t {
				out[i], replaced = u, true
				break
			}
		}
		if !replaced {
			out = append(out, u)
		}
	}
	for i := range out {
		var max uint64
		var ok bool
		if out[i].Type == "RLIMIT_NOFILE" && hostNofile != 0 {
			max, ok = hostNofile, true
		} else {
			res, _ := rlimit.Resource(out[i].Type)
			max, ok = hostHardLimit(res)
		}
		if !ok {
			continue
		}
		out[i].Hard = min(out[i].Hard, max)
		out[i].Soft = min(out[i].Soft, out[i].Hard)
	}
	return out, nil
}
