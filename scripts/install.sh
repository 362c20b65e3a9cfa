#!/usr/bin/env bash
# install.sh — build ctrd and install it: binaries to $PREFIX/bin (default
# /usr/local/bin), systemd units to /etc/systemd/system, and /etc/ctrd.
# Run as root from anywhere: sudo ./scripts/install.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-/etc/systemd/system}

if [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run as root (sudo $0)" >&2
	exit 1
fi
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "install.sh: go not found (expected in /usr/local/go/bin)" >&2
	exit 1
fi

echo "==> building and installing binaries to $PREFIX/bin"
make install PREFIX="$PREFIX"

echo "==> installing systemd units to $UNITDIR"
install -D -m 0644 systemd/ctrd.service "$UNITDIR/ctrd.service"
install -D -m 0644 systemd/ctrd.socket "$UNITDIR/ctrd.socket"
if [ "$PREFIX" != /usr/local ]; then
	sed -i "s#^ExecStart=/usr/local/bin/ctrd#ExecStart=$PREFIX/bin/ctrd#" "$UNITDIR/ctrd.service"
fi

install -d -m 0755 /etc/ctrd
# daemon.json is optional; never overwrite one the admin wrote.

# Only where systemd is the init system.
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	systemctl daemon-reload
	echo "==> units installed: systemctl enable --now ctrd.socket ctrd.service"
else
	echo "==> systemd is not running here: start the daemon with 'ctrd &'"
fi
"$PREFIX/bin/ctrd" --version
