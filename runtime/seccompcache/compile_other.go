//go:build !(linux && cgo && seccomp)

package seccompcache

import (
	"errors"

	"github.com/opencontainers/runc/libcontainer/configs"
)

// Supported tells whether this binary can compile and replay filters.
const Supported = false

var errUnsupported = errors.New("compile seccomp filter: built without cgo and -tags seccomp")

// Compile needs libseccomp: see the seccomp build.
func Compile(*configs.Seccomp) ([]byte, error) { return nil, errUnsupported }

// Arm does nothing: libcontainer builds no filter in this build.
func Arm([]byte) {}

// KeyOf needs libseccomp: see the seccomp build.
func KeyOf(*configs.Seccomp) (Key, error) { return Key{}, errUnsupported }
