package spec

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// signals maps Linux signal names, without "SIG", to their numbers (the same
// names Docker accepts, aliases included).
var signals = map[string]syscall.Signal{
	"ABRT":   unix.SIGABRT,
	"ALRM":   unix.SIGALRM,
	"BUS":    unix.SIGBUS,
	"CHLD":   unix.SIGCHLD,
	"CLD":    unix.SIGCLD,
	"CONT":   unix.SIGCONT,
	"FPE":    unix.SIGFPE,
	"HUP":    unix.SIGHUP,
	"ILL":    unix.SIGILL,
	"INT":    unix.SIGINT,
	"IO":     unix.SIGIO,
	"IOT":    unix.SIGIOT,
	"KILL":   unix.SIGKILL,
	"PIPE":   unix.SIGPIPE,
	"POLL":   unix.SIGPOLL,
	"PROF":   unix.SIGPROF,
	"PWR":    unix.SIGPWR,
	"QUIT":   unix.SIGQUIT,
	"SEGV":   unix.SIGSEGV,
	"STKFLT": unix.SIGSTKFLT,
	"STOP":   unix.SIGSTOP,
	"SYS":    unix.SIGSYS,
	"TERM":   unix.SIGTERM,
	"TRAP":   unix.SIGTRAP,
	"TSTP":   unix.SIGTSTP,
	"TTIN":   unix.SIGTTIN,
	"TTOU":   unix.SIGTTOU,
	"URG":    unix.SIGURG,
	"USR1":   unix.SIGUSR1,
	"USR2":   unix.SIGUSR2,
	"VTALRM": unix.SIGVTALRM,
	"WINCH":  unix.SIGWINCH,
	"XCPU":   unix.SIGXCPU,
	"XFSZ":   unix.SIGXFSZ,
}

// Real-time signals as user space (glibc, musl) numbers them: SIGRTMIN is 34
// (the kernel's 32 and 33 are reserved by the C libraries), SIGRTMAX is 64.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// ParseSignal parses a signal given by name ("TERM", "SIGTERM", "sigterm",
// "RTMIN+3", "SIGRTMAX-1") or number ("15").
func ParseSignal(s string) (syscall.Signal, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return 0, fmt.Errorf("invalid signal: empty name")
	}
	if n, err := strconv.ParseUint(raw, 10, 32); err == nil {
		if n == 0 || n > sigRTMax {
			return 0, fmt.Errorf("invalid signal: %s (signal numbers go from 1 to %d)", s, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(raw), "SIG")
	if sig, ok := signals[name]; ok {
		return sig, nil
	}
	if sig, ok := parseRT(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal: %s", s)
}

func parseRT(name string) (syscall.Signal, bool) {
	var base int
	var rest string
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, rest = sigRTMin, name[len("RTMIN"):]
	case strings.HasPrefix(name, "RTMAX"):
		base, rest = sigRTMax, name[len("RTMAX"):]
	default:
		return 0, false
	}
	n := base
	if rest != "" {
		if len(rest) < 2 || (rest[0] != '+' && rest[0] != '-') {
			return 0, false
		}
		off, err := strconv.Atoi(rest[1:])
		if err != nil || off < 0 {
			return 0, false
		}
		if rest[0] == '+' {
			n += off
		} else {
			n -= off
		}
	}
	if n < sigRTMin || n > sigRTMax {
		return 0, false
	}
	return syscall.Signal(n), true
}
