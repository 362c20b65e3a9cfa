#!/usr/bin/env bash
# Restart supervisor: time from a container's exit to its restarted process
# running (first restart), and ctrd's CPU during a restart storm.
#   bench/restart.sh [--storm-seconds 60]
set -euo pipefail
cd "$(dirname "$0")/.."
STORM=60
[ "${1:-}" = --storm-seconds ] && STORM=$2
. bench/lib.sh

bench_busybox "$W/rootfs" "$W/busybox.tar"
bench_ctrd
bin/ctr import "$W/busybox.tar" busybox >/dev/null

# First restart latency: the run lasts 1 s, exits 1, is restarted (after the
# 100 ms initial back-off); ctrd records both instants.
lat=()
for i in 1 2 3 4 5; do
	bin/ctr run -d --name "r$i" --restart on-failure:1 busybox sh -c 'sleep 1; exit 1' >/dev/null
	for _ in $(seq 100); do [ "$(bin/ctr inspect -f '{{.RestartCount}} {{.State.Running}}' "r$i")" = "1 true" ] && break; sleep 0.05; done
	read -r started finished < <(bin/ctr inspect -f '{{.State.StartedAt}} {{.State.FinishedAt}}' "r$i")
	lat+=("$(echo "($(date -d "$started" +%s.%N) - $(date -d "$finished" +%s.%N)) * 1000" | bc -l)")
	bin/ctr rm -f "r$i" >/dev/null
done
printf '%-56s %.1f ms\n' "exit -> restarted process running (median of 5)" "$(printf '%s\n' "${lat[@]}" | median)"

# Restart storm: a container that exits at once, with always.
ticks() { awk '{print $14 + $15}' "/proc/$CTRD_PID/stat"; }
bin/ctr run -d --name storm --restart always busybox true >/dev/null
t0=$(ticks)
sleep "$STORM"
t1=$(ticks)
n=$(bin/ctr inspect -f '{{.RestartCount}}' storm)
s=$EPOCHREALTIME
bin/ctr stop storm >/dev/null
stop=$(since "$s")
hz=$(getconf CLK_TCK)
printf '%-56s %.2f %% of one core (%d restarts)\n' "ctrd CPU over ${STORM} s of a restart storm" "$(echo "100 * ($t1 - $t0) / $hz / $STORM" | bc -l)" "$n"
printf '%-56s %.3f s\n' "ctr stop during the storm" "$stop"
