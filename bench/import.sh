#!/usr/bin/env bash
# bench/import.sh [--runs N] [--with-docker]
#
# Imports a ~250 MB, ~17k-file tarball (a tar of /usr/local/go, cached under
# /var/tmp/ctrd-bench) N times (default 5) into a throw-away ctrd, restarted
# on a fresh data-root before every run, and reports the median time, ctrd's
# peak RSS during the import and the first container's create (VmHWM) and
# its idle RSS. ctr import stores and checks the layer and the first
# container unpacks it, so that create is timed too, and import + create is
# compared as a whole. With --with-docker it also times `docker import` (and
# `docker create`) of the same file on a throw-away dockerd (installing
# docker.io with apt if dockerd is missing).
# Needs root and bin/ctrd + bin/ctr (`make binaries`; `make bench` does both).
set -euo pipefail

runs=5
with_docker=false
while [ $# -gt 0 ]; do
	case $1 in
	--with-docker) with_docker=true ;;
	--runs) runs=$2; shift ;;
	-h | --help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "usage: $0 [--runs N] [--with-docker]" >&2; exit 2 ;;
	esac
	shift
done

repo=$(cd "$(dirname "$0")/.." && pwd)
ctrd=$repo/bin/ctrd
ctr=$repo/bin/ctr
if [ "$(id -u)" -ne 0 ]; then echo "$0: needs root" >&2; exit 1; fi
for b in "$ctrd" "$ctr"; do
	[ -x "$b" ] || { echo "$0: $b missing: run 'make binaries'" >&2; exit 1; }
done

# ---- the tarball --------------------------------------------------------
cache=/var/tmp/ctrd-bench
tarball=$cache/go.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ] || [ ! -s "$tarball.files" ]; then
	echo "==> making $tarball from /usr/local/go (once)"
	tar -C /usr/local -cf "$tarball.tmp" go
	tar -tf "$tarball.tmp" | wc -l >"$tarball.files"
	mv "$tarball.tmp" "$tarball"
fi
size_mb=$(($(stat -c %s "$tarball") / 1000000))
nfiles=$(cat "$tarball.files")
cat "$tarball" >/dev/null # in the page cache for every contender alike

# ---- helpers --------------------------------------------------------------
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd' '; }
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

unmount_under() {
	local dir=$1
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

work=$(mktemp -d /var/tmp/ctrd-bench-run.XXXXXX)
bridge=ctbi$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
cgparent=/ctrd-bench-$$
bip="10.$((200 + RANDOM % 51)).$((RANDOM % 256)).1/24"
sock=$work/ctrd.sock
ctrd_pid=
dockerd_pid=
dwork=

stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	[ -n "$ctrd_pid" ] && stop_pid "$ctrd_pid"
	[ -n "$dockerd_pid" ] && stop_pid "$dockerd_pid"
	unmount_under "$work"
	rm -rf "$work"
	if [ -n "$dwork" ]; then
		unmount_under "$dwork"
		rm -rf "$dwork"
	fi
	ip link del "$bridge" 2>/dev/null || true
	if command -v nft >/dev/null; then
		nft list tables 2>/dev/null | awk -v b="$bridge" 'index($3, b) { print $2, $3 }' |
			while read -r fam name; do nft delete table "$fam" "$name" || true; done
	fi
	for h in /sys/fs/cgroup/*; do
		[ -d "$h$cgparent" ] && find "$h$cgparent" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}
trap cleanup EXIT

start_ctrd() { # data dir
	: >"$work/daemon.json"
	"$ctrd" --data-root "$1" --exec-root "$work/exec" -H "unix://$sock" --config "$work/daemon.json" \
		--bridge "$bridge" --bip "$bip" --cgroup-parent "$cgparent" --log-level warn >>"$work/ctrd.log" 2>&1 &
	ctrd_pid=$!
	local i
	for i in $(seq 300); do
		CTR_HOST=unix://$sock "$ctr" version >/dev/null 2>&1 && return 0
		kill -0 "$ctrd_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "ctrd did not start:" >&2
	tail -n 20 "$work/ctrd.log" >&2
	exit 1
}

# ---- docker daemon (one for all runs) ------------------------------------------
docker_times=()
docker_first=()
docker_idle=
docker_peak=
if $with_docker; then
	if ! command -v dockerd >/dev/null; then
		echo "==> apt-get install docker.io"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
	fi
	dwork=$(mktemp -d /var/tmp/dockerd-bench.XXXXXX)
	dsock=unix://$dwork/docker.sock
	dockerd --data-root "$dwork/data" --exec-root "$dwork/exec" -H "$dsock" --pidfile "$dwork/docker.pid" \
		--iptables=false --ip-masq=false --bridge=none --log-level=warn >"$dwork/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for i in $(seq 300); do
		docker -H "$dsock" version >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$dwork/dockerd.log" >&2; exit 1; }
		sleep 0.1
	done
	sleep 1
	docker_idle=$(kb "$dockerd_pid" VmRSS)
fi

# ---- runs: ctr, then docker, in each round ----------------------------------------
# Interleaved, so that the state of the disk (ext4 here gets slower at
# creating files after many deletions) affects both alike.
echo "==> import x $runs ($size_mb MB, $nfiles entries)"
ctr_times=()
ctr_first=()
ctr_peaks=()
ctr_idle=()
for i in $(seq "$runs"); do
	data=$work/data-$i
	sync # no write-back of the previous run in this one
	start_ctrd "$data"
	sleep 1
	ctr_idle+=("$(kb "$ctrd_pid" VmRSS)")
	t0=$EPOCHREALTIME
	id=$(CTR_HOST=unix://$sock "$ctr" import "$tarball" bench:ctrd)
	t1=$EPOCHREALTIME
	ctr_times+=("$(elapsed "$t0" "$t1")")
	# The layer is unpacked when a container first needs it: time that
	# too, so that import + first container is compared as a whole.
	cid=$(CTR_HOST=unix://$sock "$ctr" create bench:ctrd /none)
	t2=$EPOCHREALTIME
	ctr_first+=("$(elapsed "$t1" "$t2")")
	ctr_peaks+=("$(kb "$ctrd_pid" VmHWM)") # of the import and the unpack
	CTR_HOST=unix://$sock "$ctr" rm "$cid" >/dev/null
	printf '    run %d ctr:    import %ss, first create %ss  peak RSS %s MB  (%s)\n' "$i" "${ctr_times[-1]}" "${ctr_first[-1]}" \
		"$(mb "${ctr_peaks[-1]}")" "${id:7:12}"
	stop_pid "$ctrd_pid"
	wait "$ctrd_pid" 2>/dev/null || true
	ctrd_pid=
	unmount_under "$data"
	rm -rf "$data"
	if $with_docker; then
		sync
		t0=$EPOCHREALTIME
		docker -H "$dsock" import "$tarball" bench:docker >/dev/null
		t1=$EPOCHREALTIME
		docker_times+=("$(elapsed "$t0" "$t1")")
		cid=$(docker -H "$dsock" create bench:docker /none)
		t2=$EPOCHREALTIME
		docker_first+=("$(elapsed "$t1" "$t2")")
		docker -H "$dsock" rm "$cid" >/dev/null
		printf '    run %d docker: import %ss, first create %ss\n' "$i" "${docker_times[-1]}" "${docker_first[-1]}"
		docker -H "$dsock" rmi bench:docker >/dev/null
	fi
done
if $with_docker; then
	docker_peak=$(kb "$dockerd_pid" VmHWM)
	stop_pid "$dockerd_pid"
	wait "$dockerd_pid" 2>/dev/null || true
	dockerd_pid=
fi

# ---- report -------------------------------------------------------------------
echo
echo "import of $tarball ($size_mb MB, $nfiles entries), $runs runs"
printf '%-16s %10s %16s %14s %14s\n' "" "median s" "min-max s" "peak RSS MB" "idle RSS MB"
ctr_peak_max=$(printf '%s\n' "${ctr_peaks[@]}" | sort -n | tail -1)
printf '%-16s %10s %16s %14s %14s\n' "ctr import" "$(median "${ctr_times[@]}")" "$(minmax "${ctr_times[@]}" | tr ' ' -)" \
	"$(mb "$ctr_peak_max")" "$(mb "$(median "${ctr_idle[@]}")")"
if $with_docker; then
	printf '%-16s %10s %16s %14s %14s\n' "docker import" "$(median "${docker_times[@]}")" "$(minmax "${docker_times[@]}" | tr ' ' -)" \
		"$(mb "$docker_peak")" "$(mb "$docker_idle")"
	awk -v c="$(median "${ctr_times[@]}")" -v d="$(median "${docker_times[@]}")" 'BEGIN { printf "ctr import is %.1fx the speed of docker import\n", d / c }'
fi
echo
echo "first container create after the import (ctr unpacks the layer then; docker did at import)"
printf '%-16s %10s %16s\n' "" "median s" "min-max s"
printf '%-16s %10s %16s\n' "ctr create" "$(median "${ctr_first[@]}")" "$(minmax "${ctr_first[@]}" | tr ' ' -)"
if $with_docker; then
	printf '%-16s %10s %16s\n' "docker create" "$(median "${docker_first[@]}")" "$(minmax "${docker_first[@]}" | tr ' ' -)"
	tc=$(for i in "${!ctr_times[@]}"; do awk -v a="${ctr_times[$i]}" -v b="${ctr_first[$i]}" 'BEGIN { print a + b }'; done)
	td=$(for i in "${!docker_times[@]}"; do awk -v a="${docker_times[$i]}" -v b="${docker_first[$i]}" 'BEGIN { print a + b }'; done)
	# shellcheck disable=SC2086
	awk -v c="$(median $tc)" -v d="$(median $td)" 'BEGIN { printf "import + first create: ctr %.3f s, docker %.3f s (%.2fx)\n", c, d, c / d }'
fi
echo "(peak RSS: VmHWM of the daemon; ctrd restarted before each run. idle RSS: VmRSS 1 s after start. dockerd: one daemon for all runs, without its containerd.)"
