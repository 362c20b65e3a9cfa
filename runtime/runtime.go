// Package runtime runs containers for ctrd: the OCI spec (runtime/spec), the
// per-container shim that owns a container through libcontainer
// (runtime/shim), the attach protocol (runtime/attach) and container logs
// (runtime/logfile).
//
// Importing this package links libcontainer's nsenter (cgo) and the cgroup
// device-rule support into the binary; ContainerInit is the entry point of
// the binary's hidden "init" mode that libcontainer re-executes.
package runtime

import (
	"github.com/opencontainers/runc/libcontainer"

	"github.com/ctrd/ctrd/runtime/seccompcache"

	// Side effects: the nsenter constructor (runs before the Go runtime in
	// "init" mode) and the cgroup v1/v2 device rule support.
	_ "github.com/opencontainers/cgroups/devices"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// ContainerInit is libcontainer's container init ("<binary> init"). Call it
// first thing in main when os.Args[1] == "init"; it never returns.
func ContainerInit() {
	// Before libcontainer's init enters the container's rootfs: the
	// filter ctrd compiled for it is in the bundle.
	seccompcache.ArmFromBundle()
	libcontainer.Init()
}
