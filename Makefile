# ctrd build, test and codegen entry points. `sudo make test` runs everything.
GO        ?= go
TAGS      ?= seccomp
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/ctrd/ctrd/version.Version=$(VERSION) -X github.com/ctrd/ctrd/version.GitCommit=$(COMMIT)
PREFIX    ?= /usr/local

.PHONY: all build binaries test unit e2e vet fmt bench clean install

all: build

build: binaries

binaries:
	CGO_ENABLED=1 $(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/ctrd ./cmd/ctrd
	# The shim is executed twice per container start (as the shim, and by
	# libcontainer as the container's init): linked statically, neither
	# execution runs the dynamic loader (~2.5 ms each, measured). osusergo
	# and netgo keep glibc's NSS, which cannot work statically, out.
	CGO_ENABLED=1 $(GO) build -tags '$(TAGS) osusergo netgo' -ldflags '$(LDFLAGS) -linkmode external -extldflags "-static"' -o bin/ctrd-shim ./cmd/ctrd-shim
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/ctr ./cmd/ctr
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w" -o bin/ctrd-init ./cmd/ctrd-init

vet:
	$(GO) vet -tags '$(TAGS)' ./...

fmt:
	@out=$$(gofmt -l $$(find . -name "*.go" -not -path "./.git/*")); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit tests: pure logic plus the store, snapshotter, archive and runtime
# packages (these need root for mounts, mknod and namespaces).
unit:
	$(GO) test -tags '$(TAGS)' -count=1 $$($(GO) list ./... | grep -v /e2e)

# End-to-end: a real ctrd on throw-away dirs, socket, bridge and subnet.
e2e: binaries
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 20m ./e2e/...

test: fmt vet unit e2e

bench: binaries
	./bench/run.sh

install: binaries
	install -D -m 0755 bin/ctrd $(DESTDIR)$(PREFIX)/bin/ctrd
	install -D -m 0755 bin/ctr $(DESTDIR)$(PREFIX)/bin/ctr
	install -D -m 0755 bin/ctrd-init $(DESTDIR)$(PREFIX)/bin/ctrd-init
	install -D -m 0755 bin/ctrd-shim $(DESTDIR)$(PREFIX)/bin/ctrd-shim

clean:
	rm -rf bin
