// Package seccompcache compiles a container's seccomp filter once and
// replays it into every container init that needs the same one.
//
// libcontainer's init builds the filter with libseccomp on every container
// start: for Docker's default profile that is ~17 ms of a ~100 ms start on
// a 2-vCPU machine, the largest single cost of the init. The program
// libseccomp produces depends only on the filter's configuration and on
// the versions of libseccomp and libcontainer, so ctrd compiles it once
// (Compile, in the daemon), writes it into each container's bundle (File),
// the shim checks it was made for the container's own configuration
// (Verify), and the init hands it to libseccomp's export instead of
// compiling (ArmFromBundle). libcontainer's own code still builds the
// filter's attributes, prepends its -ENOSYS stub and loads the result, so
// the loaded filter is the one it would have made itself.
//
// The hand-over is at the C level: the binaries linking this package wrap
// libseccomp's seccomp_export_bpf and seccomp_rule_add_*array functions
// (ld --wrap), which pass through unless this package arms them.
package seccompcache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// FileName is the compiled filter's file in a container's bundle, next to
// its rootfs directory.
const FileName = "seccomp.bpf"

// magic starts a filter file; the digit is the format's version.
var magic = []byte("ctrdbpf1")

// Key identifies a compiled program: the filter configuration it was made
// from and the code that made it.
type Key [sha256.Size]byte

// Encode makes a filter file: magic, key, the program's SHA-256, program.
func Encode(k Key, prog []byte) []byte {
	sum := sha256.Sum256(prog)
	b := make([]byte, 0, len(magic)+len(k)+len(sum)+len(prog))
	b = append(b, magic...)
	b = append(b, k[:]...)
	b = append(b, sum[:]...)
	return append(b, prog...)
}

// Decode checks a filter file and returns its key and program.
func Decode(b []byte) (Key, []byte, error) {
	var k Key
	head := len(magic) + len(k) + sha256.Size
	if len(b) < head || !bytes.Equal(b[:len(magic)], magic) {
		return k, nil, errors.New("not a compiled seccomp filter")
	}
	copy(k[:], b[len(magic):])
	sum := b[len(magic)+len(k) : head]
	prog := b[head:]
	// A BPF program is a whole number of 8-byte instructions, at least one.
	if len(prog) == 0 || len(prog)%8 != 0 {
		return k, nil, fmt.Errorf("compiled seccomp filter: program of %d bytes", len(prog))
	}
	if got := sha256.Sum256(prog); !bytes.Equal(got[:], sum) {
		return k, nil, errors.New("compiled seccomp filter: checksum mismatch")
	}
	return k, prog, nil
}
