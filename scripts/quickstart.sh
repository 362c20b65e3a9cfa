#!/usr/bin/env bash
# quickstart.sh — from a fresh machine to a working ctrd in one command:
# installs the packages it needs, builds and installs ctrd, starts the
# daemon, makes a busybox image from Debian's busybox-static and uses it.
#   sudo ./scripts/quickstart.sh
set -euo pipefail

cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart.sh: run as root (sudo $0)" >&2
	exit 1
fi
export PATH="/usr/local/bin:$PATH:/usr/local/go/bin"
export DEBIAN_FRONTEND=noninteractive

# 1. Packages: a C toolchain and libseccomp for ctrd (cgo), busybox-static
#    for the base image, nftables and iproute2 for networking. Go is
#    expected in /usr/local/go.
pkgs=(gcc libc6-dev make pkg-config libseccomp-dev busybox-static nftables iproute2)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> apt-get install ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null; then
	echo "quickstart.sh: go not found; install Go in /usr/local/go" >&2
	exit 1
fi

# 2. Build and install binaries and units.
./scripts/install.sh

# 3. Start ctrd unless it is already answering.
if ctr version >/dev/null 2>&1; then
	echo "==> ctrd is already running"
elif [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	echo "==> starting ctrd with systemd"
	systemctl enable --now ctrd.socket ctrd.service
else
	echo "==> starting ctrd in the background (log: /var/log/ctrd.log)"
	nohup /usr/local/bin/ctrd >>/var/log/ctrd.log 2>&1 </dev/null &
fi
for _ in $(seq 1 150); do
	ctr version >/dev/null 2>&1 && break
	sleep 0.2
done
if ! ctr version >/dev/null 2>&1; then
	echo "quickstart.sh: ctrd did not come up; last lines of /var/log/ctrd.log:" >&2
	tail -n 20 /var/log/ctrd.log >&2 || true
	exit 1
fi

# 4. A busybox base image.
tarball=$(mktemp /tmp/busybox-rootfs.XXXXXX.tar)
trap 'rm -f "$tarball"' EXIT
./scripts/mkbusybox.sh "$tarball"
echo "==> ctr import busybox:latest"
ctr import -m "busybox from Debian's busybox-static" -c 'CMD ["/bin/sh"]' "$tarball" busybox:latest

# 5. Show it working.
echo "==> ctr images"
ctr images
echo "==> ctr history busybox"
ctr history busybox
if ctr --help 2>/dev/null | grep -qE '^[[:space:]]+run[[:space:]]'; then
	echo "==> ctr run --rm busybox echo hello from ctrd"
	ctr run --rm busybox echo hello from ctrd
fi
echo "==> done: ctrd is running; try 'ctr --help'"
