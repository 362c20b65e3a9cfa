#!/usr/bin/env bash
# Container start latency and density, ctrd side by side with runc (and
# docker with --with-docker). Run as root from the repository root after
# `make binaries`:
#   bench/container_run.sh [--with-docker] [-n 20] [--parallel 50]
set -euo pipefail
cd "$(dirname "$0")/.."
N=20 PAR=50 WITH_DOCKER=0
while [ $# -gt 0 ]; do
	case "$1" in
	--with-docker) WITH_DOCKER=1 ;;
	-n) N=$2; shift ;;
	--parallel) PAR=$2; shift ;;
	*) echo "usage: $0 [--with-docker] [-n N] [--parallel N]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x bin/ctrd ] || { echo "run make binaries first" >&2; exit 1; }

W=$(mktemp -d /tmp/ctrd-bench-XXXXXX)
CG=/ctrd-bench-$$
cleanup() {
	set +e
	[ -n "${CTRD_PID:-}" ] && { CTR_HOST=unix://$W/ctrd.sock bin/ctr rm -f $(CTR_HOST=unix://$W/ctrd.sock bin/ctr ps -aq) >/dev/null 2>&1; kill "$CTRD_PID"; wait "$CTRD_PID"; }
	[ -n "${DOCKERD_PID:-}" ] && { kill "$DOCKERD_PID"; wait "$DOCKERD_PID"; }
	grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	rm -rf "$W"
	for c in /sys/fs/cgroup/*/$CG; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

# busybox rootfs
mkdir -p "$W/rootfs/bin" "$W/rootfs/etc" "$W/rootfs/proc" "$W/rootfs/dev" "$W/rootfs/sys" "$W/rootfs/tmp"
cp /bin/busybox "$W/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$W/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
echo 'root:x:0:' >"$W/rootfs/etc/group"
tar -C "$W/rootfs" -cf "$W/busybox.tar" .

bin/ctrd --data-root "$W/data" --exec-root "$W/exec" -H "unix://$W/ctrd.sock" --cgroup-parent "$CG" \
	--bridge "ctb$(printf %04x $$)" --bip 10.254.$((RANDOM % 200)).1/24 --config /dev/null >"$W/ctrd.log" 2>&1 &
CTRD_PID=$!
export CTR_HOST=unix://$W/ctrd.sock
for _ in $(seq 50); do bin/ctr version >/dev/null 2>&1 && break; sleep 0.1; done
bin/ctr import "$W/busybox.tar" busybox >/dev/null
bin/ctr run --rm busybox true # warm up

printf '%-44s %s\n' "measure" "value"
t=$(for _ in $(seq "$N"); do s=$(now); bin/ctr run --rm busybox true; elapsed "$s"; done | median)
printf '%-44s %.3f s\n' "ctr run --rm busybox true (median of $N)" "$t"
CTR_T=$t

if ! command -v runc >/dev/null; then
	apt-get install -y -qq runc >/dev/null 2>&1 || true
fi
if command -v runc >/dev/null; then
	mkdir -p "$W/bundle"
	(cd "$W/bundle" && runc spec && ln -s ../rootfs rootfs)
	sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' "$W/bundle/config.json"
	runc --root "$W/runc" run -b "$W/bundle" warm >/dev/null 2>&1 || true
	t=$(for i in $(seq "$N"); do s=$(now); runc --root "$W/runc" run -b "$W/bundle" "b$i" >/dev/null; elapsed "$s"; done | median)
	printf '%-44s %.3f s\n' "runc run (same rootfs, median of $N)" "$t"
	printf '%-44s %.2fx\n' "ctr / runc" "$(echo "$CTR_T / $t" | bc -l)"
fi

if [ "$WITH_DOCKER" = 1 ]; then
	command -v dockerd >/dev/null || apt-get install -y -qq docker.io >/dev/null
	dockerd --data-root "$W/docker" --exec-root "$W/docker-exec" -H "unix://$W/docker.sock" --pidfile "$W/docker.pid" \
		--bridge none --iptables=false >"$W/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST=unix://$W/docker.sock
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
	docker import "$W/busybox.tar" busybox >/dev/null
	docker run --rm --network none busybox true
	t=$(for _ in $(seq "$N"); do s=$(now); docker run --rm --network none busybox true; elapsed "$s"; done | median)
	printf '%-44s %.3f s\n' "docker run --rm busybox true (median of $N)" "$t"
	printf '%-44s %.2fx\n' "ctr / docker" "$(echo "$CTR_T / $t" | bc -l)"
fi

# Density: PAR detached containers started in parallel.
s=$(now)
for i in $(seq "$PAR"); do bin/ctr run -d --name "p$i" busybox sleep 600 >/dev/null & done
wait
printf '%-44s %.2f s\n' "start $PAR -d containers in parallel" "$(elapsed "$s")"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
printf '%-44s %d MB\n' "ctrd RSS with $PAR containers" "$(( $(rss $CTRD_PID) / 1024 ))"
total=0 n=0
for p in $(pgrep -f "shim.*$W/exec"); do total=$((total + $(rss "$p"))); n=$((n + 1)); done
[ "$n" -gt 0 ] && printf '%-44s %d kB (%d shims)\n' "RSS per shim (mean)" "$((total / n))" "$n"
bin/ctr rm -f $(bin/ctr ps -aq) >/dev/null
printf '%-44s %d MB\n' "ctrd RSS idle after" "$(( $(rss $CTRD_PID) / 1024 ))"
