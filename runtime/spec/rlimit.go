package spec

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultNofile is the RLIMIT_NOFILE Docker containers get (soft and hard),
// before clamping to what the host allows.
const DefaultNofile = 1048576

var rlimitResources = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

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
	if _, ok := rlimitResources[n]; !ok {
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
			max, ok = hostHardLimit(rlimitResources[out[i].Type])
		}
		if !ok {
			continue
		}
		out[i].Hard = min(out[i].Hard, max)
		out[i].Soft = min(out[i].Soft, out[i].Hard)
	}
	return out, nil
}
