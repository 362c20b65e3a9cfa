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
. bench/lib.sh

bench_busybox "$W/rootfs" "$W/busybox.tar"
bench_ctrd
bin/ctr import "$W/busybox.tar" busybox >/dev/null
bin/ctr run --rm busybox true # warm up

command -v runc >/dev/null || apt-get install -y -qq runc >/dev/null 2>&1 || true
if command -v runc >/dev/null; then
	# An equivalent bundle: ctrd's own spec of a container (same
	# capabilities, seccomp profile, masked paths, mounts, cgroup limits),
	# with a plain rootfs directory and a fresh network namespace. The
	# files ctrd mounts (hosts, resolv.conf, hostname) are copied, so that
	# the container the spec was taken from can go before measuring.
	id=$(bin/ctr run -d busybox sleep 600)
	mkdir -p "$W/bundle/files"
	python3 - "$W/exec/containers/$id/config.json" "$W/bundle/config.json" "$W/rootfs" "$CG" "$W/bundle/files" <<'PY'
import json, os, shutil, sys
spec = json.load(open(sys.argv[1]))
spec["process"]["args"] = ["true"]
spec["root"]["path"] = sys.argv[3]
for ns in spec["linux"]["namespaces"]:
    ns.pop("path", None)
spec["linux"]["cgroupsPath"] = sys.argv[4] + "/runc"
for m in spec["mounts"]:
    if m.get("type") == "bind" or "bind" in m.get("options", []) or "rbind" in m.get("options", []):
        if not os.path.isfile(m["source"]):
            continue
        dst = os.path.join(sys.argv[5], os.path.basename(m["source"]))
        shutil.copy(m["source"], dst)
        m["source"] = dst
json.dump(spec, open(sys.argv[2], "w"))
PY
	bin/ctr rm -f "$id" >/dev/null
fi

if [ "$WITH_DOCKER" = 1 ]; then
	bench_dockerd
	docker run --rm --network none busybox true # warm up
fi

# ctr, runc and docker take turns, run by run (which goes first rotates),
# so that all see the same machine: its speed drifts by 10-20 % here over
# a minute. A pause after each run lets the work each leaves behind (a
# removal finishing, a spare shim starting, dockerd's clean-up) end
# before the next one is timed.
printf '%-44s %s\n' "measure" "value"
: >"$W/ctr.times"
: >"$W/ctrnone.times"
: >"$W/runc.times"
: >"$W/docker.times"
# ctrnone is ctr without networking, as runc's bundle and docker run here.
whos=(ctr ctrnone)
[ -f "$W/bundle/config.json" ] && whos+=(runc)
[ "$WITH_DOCKER" = 1 ] && whos+=(docker)
for i in $(seq "$N"); do
	for k in $(seq 0 $((${#whos[@]} - 1))); do
		who=${whos[$(((i + k) % ${#whos[@]}))]}
		s=$EPOCHREALTIME
		case $who in
		ctr) bin/ctr run --rm busybox true ;;
		ctrnone) bin/ctr run --rm --network none busybox true ;;
		runc) runc --root "$W/runc" run -b "$W/bundle" "b$i" >/dev/null ;;
		docker) docker run --rm --network none busybox true ;;
		esac
		since "$s" >>"$W/$who.times"
		sleep 0.3
	done
done
CTR_T=$(median <"$W/ctr.times")
NONE_T=$(median <"$W/ctrnone.times")
printf '%-44s %.3f s\n' "ctr run --rm busybox true (median of $N)" "$CTR_T"
printf '%-44s %.3f s\n' "  the same with --network none" "$NONE_T"
if [ -s "$W/runc.times" ]; then
	t=$(median <"$W/runc.times")
	printf '%-44s %.3f s\n' "runc run (equivalent bundle, median of $N)" "$t"
	printf '%-44s %.2fx\n' "ctr / runc" "$(echo "$CTR_T / $t" | bc -l)"
	printf '%-44s %.2fx\n' "ctr --network none / runc" "$(echo "$NONE_T / $t" | bc -l)"
fi
if [ -s "$W/docker.times" ]; then
	t=$(median <"$W/docker.times")
	printf '%-44s %.3f s\n' "docker run --rm busybox true (median of $N)" "$t"
	printf '%-44s %.3fx\n' "ctr / docker" "$(echo "$CTR_T / $t" | bc -l)"
	printf '%-44s %.3fx\n' "ctr --network none / docker --network none" "$(echo "$NONE_T / $t" | bc -l)"
fi

# Density: PAR detached containers started in parallel.
s=$EPOCHREALTIME
pids=()
for i in $(seq "$PAR"); do bin/ctr run -d --name "p$i" busybox sleep 600 >/dev/null & pids+=($!); done
wait "${pids[@]}"
printf '%-44s %.2f s\n' "start $PAR -d containers in parallel" "$(since "$s")"
printf '%-44s %d MB\n' "ctrd RSS with $PAR containers" "$(($(rss_kb "$CTRD_PID") / 1024))"
rss=0 pss=0 anon=0 n=0
for p in $(pgrep -f "shim.*$W/exec"); do
	rss=$((rss + $(rss_kb "$p")))
	pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
	anon=$((anon + $(awk '/^Anonymous:/ {print $2}' "/proc/$p/smaps_rollup")))
	n=$((n + 1))
done
if [ "$n" -gt 0 ]; then
	printf '%-44s %d kB RSS, %d kB PSS, %d kB private anon\n' "per shim (mean of $n)" "$((rss / n))" "$((pss / n))" "$((anon / n))"
fi
bin/ctr rm -f $(bin/ctr ps -aq) >/dev/null
printf '%-44s %d MB\n' "ctrd RSS after removing them" "$(($(rss_kb "$CTRD_PID") / 1024))"
