#!/usr/bin/env bash
# Commit of a container holding 100 MB of new data and a copied /usr: 100
# files of random data plus a copy of a source tree standing in for /usr
# (/usr/local/go/src: ~160 MB in ~13k files). Each of N containers gets
# its own copy and one file of its own, so every commit makes a new layer
# (committing one container N times would measure the removal of N-1
# duplicate layers instead). Median of N (default 5). Run as root after
# `make binaries`:   bench/commit.sh [--with-docker] [-n N]
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_DOCKER=0 N=5
while [ $# -gt 0 ]; do
	case "$1" in
	--with-docker) WITH_DOCKER=1 ;;
	-n) N=$2; shift ;;
	*) echo "usage: $0 [--with-docker] [-n N]" >&2; exit 2 ;;
	esac
	shift
done
. bench/lib.sh

USR=/usr/local/go/src
[ -d "$USR" ] || USR=/usr/share
bench_busybox "$W/rootfs" "$W/busybox.tar"
mkdir -p "$W/payload/data"
for i in $(seq 100); do head -c 1048576 /dev/urandom >"$W/payload/data/f$i"; done
fill='cp -a /payload/data / && mkdir -p /usr && cp -a /hostusr/. /usr/ && echo "$0" >/unique'

bench_ctrd
bin/ctr import "$W/busybox.tar" busybox >/dev/null
for i in $(seq "$N"); do
	bin/ctr run --name "src$i" -v "$W/payload:/payload:ro" -v "$USR:/hostusr:ro" busybox sh -c "$fill" "$i"
done
t=$(for i in $(seq "$N"); do s=$EPOCHREALTIME; bin/ctr commit "src$i" "bench:$i" >/dev/null; since "$s"; done | median)
printf '%-56s %.3f s\n' "ctr commit (100 MB + copied /usr, median of $N)" "$t"
# A committed layer is unpacked when a container first needs it: the
# first run of each image pays for that.
r=$(for i in $(seq "$N"); do s=$EPOCHREALTIME; bin/ctr run --rm "bench:$i" true; since "$s"; done | median)
printf '%-56s %.3f s\n' "ctr run --rm of each new image, first time (median)" "$r"

if [ "$WITH_DOCKER" = 1 ]; then
	bench_dockerd
	for i in $(seq "$N"); do
		docker run --name "src$i" --network none -v "$W/payload:/payload:ro" -v "$USR:/hostusr:ro" busybox sh -c "$fill" "$i"
	done
	d=$(for i in $(seq "$N"); do s=$EPOCHREALTIME; docker commit "src$i" "bench:$i" >/dev/null; since "$s"; done | median)
	printf '%-56s %.3f s\n' "docker commit (same, median of $N)" "$d"
	r=$(for i in $(seq "$N"); do s=$EPOCHREALTIME; docker run --rm --network none "bench:$i" true; since "$s"; done | median)
	printf '%-56s %.3f s\n' "docker run --rm of each new image, first time (median)" "$r"
	printf '%-56s %.2fx\n' "ctr / docker" "$(echo "$t / $d" | bc -l)"
fi
