// Package version holds the build's version, stamped by the Makefile.
package version

// Set with -ldflags "-X github.com/ctrd/ctrd/version.Version=...".
var (
	Version   = "dev"
	GitCommit = "unknown"
)

// APIVersion is the version of the ttrpc API in api/*.proto.
const APIVersion = "1"
