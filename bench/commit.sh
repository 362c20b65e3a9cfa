#!/usr/bin/env bash
# Commit of a container holding 100 MB of new data and a copy of /usr
# (busybox's, plus 100 MB of random files). Median of 5. Run as root after
# `make binaries`:   bench/commit.sh [--with-docker]
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_DOCKER=0
[ "${1:-}" = --with-docker ] && WITH_DOCKER=1
. bench/lib.sh

bench_busybox "$W/rootfs" "$W/busybox.tar"
# The payload: 100 MB in 100 files, and a copy of /usr/share/zoneinfo-like
# small files (a slice of the host's /usr) to make many entries.
mkdir -p "$W/payload/data"
for i in $(seq 100); do head -c 1048576 /dev/urandom >"$W/payload/data/f$i"; done
cp -a /usr/share/zoneinfo "$W/payload/usrcopy" 2>/dev/null || cp -a /usr/lib/os-release "$W/payload/usrcopy"

bench_ctrd
bin/ctr import "$W/busybox.tar" busybox >/dev/null
bin/ctr run --name src -v "$W/payload:/payload:ro" busybox cp -a /payload/data /payload/usrcopy / 
t=$(for i in 1 2 3 4 5; do s=$(now); bin/ctr commit src "bench:$i" >/dev/null; since "$s"; done | median)
printf '%-50s %.3f s\n' "ctr commit (100 MB + many files, median of 5)" "$t"

if [ "$WITH_DOCKER" = 1 ]; then
	bench_dockerd
	docker run --name src --network none -v "$W/payload:/payload:ro" busybox cp -a /payload/data /payload/usrcopy /
	d=$(for i in 1 2 3 4 5; do s=$(now); docker commit src "bench:$i" >/dev/null; since "$s"; done | median)
	printf '%-50s %.3f s\n' "docker commit (same, median of 5)" "$d"
	printf '%-50s %.2fx\n' "ctr / docker" "$(echo "$t / $d" | bc -l)"
fi
