package spec

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultSeccomp is Docker's default seccomp profile for s, less the x32
// ABI on an amd64 kernel built without it. No x32 program can run on
// such a kernel (execve refuses them), so the x32 rules can never apply,
// yet libseccomp compiles them for every container: dropping them saves
// about a tenth of a container's start. (Without x32 in the filter, a
// native process making a raw x32 system call is killed instead of
// getting ENOSYS.)
func defaultSeccomp(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	sc, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, err
	}
	if runtime.GOARCH == "amd64" && !kernelHasX32() {
		sc.Architectures = slices.DeleteFunc(slices.Clone(sc.Architectures), func(a specs.Arch) bool { return a == specs.ArchX32 })
	}
	return sc, nil
}

// DefaultSeccomp is the profile Generate gives a container with Docker's
// default capabilities: what most containers run with, for a caller that
// prepares for them (ctrd compiles it at start).
func DefaultSeccomp() (*specs.LinuxSeccomp, error) {
	caps := slices.Clone(defaultCaps)
	return defaultSeccomp(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}}})
}

// kernelHasX32 tells whether this kernel has the x32 ABI, from its build
// configuration or, without one, its symbols; true when neither tells.
var kernelHasX32 = sync.OnceValue(func() bool {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			if has, ok := configHasX32(zr); ok {
				return has
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		if f, err := os.Open("/boot/config-" + strings.TrimSpace(string(b))); err == nil {
			defer f.Close()
			if has, ok := configHasX32(f); ok {
				return has
			}
		}
	}
	if f, err := os.Open("/proc/kallsyms"); err == nil {
		defer f.Close()
		if has, ok := kallsymsHaveX32(f); ok {
			return has
		}
	}
	return true
})

// configHasX32 reads a kernel build configuration; ok is false if it does
// not say.
func configHasX32(r io.Reader) (has, ok bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "CONFIG_X86_X32_ABI=y", "CONFIG_X86_X32=y":
			return true, true
		case "# CONFIG_X86_X32_ABI is not set", "# CONFIG_X86_X32 is not set":
			return false, true
		}
	}
	return false, false
}

// kallsymsHaveX32 looks for the x32 system call dispatcher (x32_sys_call,
// or x32_sys_call_table before Linux 6.9) among the kernel's symbols; ok
// is false if the list is empty (hidden).
func kallsymsHaveX32(r io.Reader) (has, ok bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ok = true
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && (f[2] == "x32_sys_call" || f[2] == "x32_sys_call_table") {
			return true, true
		}
	}
	return false, ok
}
