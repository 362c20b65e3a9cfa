// Package version holds the build's version, stamped by the Makefile.
package version

// Set with -ldflags "-X github.com/ctrd/ctrd/version.Version=...".
var (
	Version   = "dev"
	GitCommit = "unknown"
)

// APIVersion is the version of the API in package api: 2 is JSON over
// package rpc (1 was protobuf over ttrpc).
const APIVersion = "2"
