// Package restart holds ctrd's restart policies: parsing, the pure decisions
// taken when a container exits or when the daemon starts, the back-off
// between restarts, and a small supervisor that runs delayed restarts and
// lets `ctr stop` cancel them at once.
//
// Docker's documented behaviour is the contract:
//
//   - no (default): never restarted.
//   - on-failure[:N]: restarted after a non-zero exit, at most N times when N
//     is given (0 = no limit); not started at daemon start.
//   - always: restarted whatever the exit code; a container stopped by the
//     user stays stopped until it is started again or the daemon starts.
//   - unless-stopped: like always, but a container stopped by the user also
//     stays stopped across daemon starts.
package restart

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Policy names, as accepted by --restart and shown by `ctr inspect`.
const (
	No            = "no"
	OnFailure     = "on-failure"
	Always        = "always"
	UnlessStopped = "unless-stopped"
)

// Policy is a container's restart policy (Docker's HostConfig.RestartPolicy).
// The zero value means "no".
type Policy struct {
	Name              string // "no", "on-failure", "always" or "unless-stopped"; "" is read as "no"
	MaximumRetryCount int    // on-failure only; 0 = no limit
}

// ParsePolicy parses a --restart value: "", "no", "on-failure",
// "on-failure:N", "always" or "unless-stopped". "" gives the "no" policy.
// Errors are one line each.
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return Policy{Name: No}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if name == "" {
		return Policy{}, Policy{Name: s}.Validate() // "unknown policy"
	}
	p := Policy{Name: name}
	if hasCount && count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return Policy{}, fmt.Errorf("invalid restart policy %q: maximum retry count must be an integer, not %q", s, count)
		}
		p.MaximumRetryCount = n
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p.normalize(), nil
}

// Validate checks a policy that did not come through ParsePolicy (an API
// request, `ctr update --restart`, stored metadata).
func (p Policy) Validate() error {
	switch p.Name {
	case "", No, Always, UnlessStopped:
		if p.MaximumRetryCount != 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count cannot be used with restart policy '%s'", p.normalize().Name)
		}
		return nil
	case OnFailure:
		if p.MaximumRetryCount < 0 {
			return errors.New("invalid restart policy: maximum retry count cannot be negative")
		}
		return nil
	default:
		return fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'",
			p.Name, No, OnFailure, Always, UnlessStopped)
	}
}

func (p Policy) normalize() Policy {
	if p.Name == "" {
		p.Name = No
	}
	return p
}

// String gives the policy in --restart syntax; ParsePolicy(p.String()) == p.
func (p Policy) String() string {
	p = p.normalize()
	if p.Name == OnFailure && p.MaximumRetryCount > 0 {
		return OnFailure + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return p.Name
}

// IsNone reports whether the policy is "no" (or empty).
func (p Policy) IsNone() bool { return p.Name == "" || p.Name == No }

// IsOnFailure reports whether the policy is "on-failure[:N]".
func (p Policy) IsOnFailure() bool { return p.Name == OnFailure }

// IsAlways reports whether the policy is "always".
func (p Policy) IsAlways() bool { return p.Name == Always }

// IsUnlessStopped reports whether the policy is "unless-stopped".
func (p Policy) IsUnlessStopped() bool { return p.Name == UnlessStopped }

// CheckAutoRemove refuses a restart policy other than "no" together with
// --rm, as Docker does.
func CheckAutoRemove(p Policy, autoRemove bool) error {
	if autoRemove && !p.IsNone() {
		return errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	return nil
}
