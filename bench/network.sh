#!/usr/bin/env bash
# Published-port throughput against direct-to-container throughput, and the
# cost of network setup in `ctr run`. Run as root after `make binaries`:
#   bench/network.sh [-n 20] [-r 15]
set -euo pipefail
cd "$(dirname "$0")/.."
N=20 ROUNDS=15
while [ $# -gt 0 ]; do
	case "$1" in
	-n) N=$2; shift ;;
	-r) ROUNDS=$2; shift ;;
	*) echo "usage: $0 [-n N] [-r ROUNDS]" >&2; exit 2 ;;
	esac
	shift
done
. bench/lib.sh
command -v curl >/dev/null || apt-get install -y -qq curl >/dev/null

bench_busybox "$W/rootfs" "$W/busybox.tar"
bench_ctrd
bin/ctr import "$W/busybox.tar" busybox >/dev/null

# A 1 GB file served by busybox httpd from a tmpfs, so disks stay out.
mkdir -p "$W/www"
mount -t tmpfs -o size=1100m tmpfs "$W/www"
dd if=/dev/zero of="$W/www/big" bs=1M count=1024 status=none
PORT=$((20000 + RANDOM % 10000))
bin/ctr run -d --name web -p "$PORT:80" -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
CIP=$(bin/ctr inspect -f '{{.NetworkSettings.IPAddress}}' web)
GW=$(bin/ctr inspect -f '{{.NetworkSettings.Gateway}}' web)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

speed() { curl -s -o /dev/null -w '%{speed_download}\n' "$1"; }
printf "%-52s %s\n" "measure" "MB/s (median of $ROUNDS, interleaved)"
# Interleaved rounds, so that a drift of the machine affects the three
# alike; each published-port transfer is also compared with the direct
# one of its own round, and the median of those ratios is reported. Single
# transfers vary by +-20 % here, so take many rounds.
for _ in $(seq "$ROUNDS"); do
	d=$(speed "http://$CIP:80/big")
	l=$(speed "http://127.0.0.1:$PORT/big")
	h=$(speed "http://$GW:$PORT/big")
	echo "$d" >>"$W/direct"
	echo "$l" >>"$W/lo"
	echo "$h" >>"$W/hostaddr"
	echo "100 * $l / $d" | bc -l >>"$W/lo-ratio"
	echo "100 * $h / $d" | bc -l >>"$W/hostaddr-ratio"
done
printf '%-52s %.0f\n' "direct to the container ($CIP:80)" "$(echo "$(median <"$W/direct") / 1048576" | bc -l)"
printf '%-52s %.0f (%.0f%% of direct, median of per-round ratios)\n' "published port via 127.0.0.1:$PORT" \
	"$(echo "$(median <"$W/lo") / 1048576" | bc -l)" "$(median <"$W/lo-ratio")"
printf '%-52s %.0f (%.0f%% of direct, median of per-round ratios)\n' "published port via a host address ($GW:$PORT)" \
	"$(echo "$(median <"$W/hostaddr") / 1048576" | bc -l)" "$(median <"$W/hostaddr-ratio")"
bin/ctr rm -f web >/dev/null
umount "$W/www"

# Network setup cost: the same run with the default bridge and with none.
bin/ctr run --rm busybox true
# Alternating runs; the difference is taken per pair.
for _ in $(seq "$N"); do
	s=$EPOCHREALTIME; bin/ctr run --rm busybox true; b=$(since "$s")
	s=$EPOCHREALTIME; bin/ctr run --rm --network none busybox true; n=$(since "$s")
	echo "$b" >>"$W/bridge"
	echo "$n" >>"$W/none"
	echo "($b - $n) * 1000" | bc -l >>"$W/setup"
done
printf '%-52s %.1f ms\n' "ctr run --rm true, bridge network (median of $N)" "$(echo "$(median <"$W/bridge") * 1000" | bc -l)"
printf '%-52s %.1f ms\n' "ctr run --rm true, --network none (median of $N)" "$(echo "$(median <"$W/none") * 1000" | bc -l)"
printf '%-52s %.1f ms\n' "network setup adds (median of per-pair differences)" "$(median <"$W/setup")"
