# Shared helpers of the bench scripts: a throw-away ctrd, cleanup of
# everything it made, a busybox rootfs, medians. Source it from a script run
# as root at the repository root.

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x bin/ctrd ] || { echo "run make binaries first" >&2; exit 1; }

W=$(mktemp -d /tmp/ctrd-bench-XXXXXX)
CG=/ctrd-bench-$$
BR=ctb$(printf %04x $(($$ % 65536)))
export CTR_HOST=unix://$W/ctrd.sock

# Times are read from bash's own clock (s=$EPOCHREALTIME ...; since "$s"):
# a date(1) per reading would add its fork and exec, several ms here, to
# every figure.
since() { echo "$EPOCHREALTIME - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# bench_busybox DIR TAR: a busybox rootfs in DIR and its tarball.
bench_busybox() {
	mkdir -p "$1/bin" "$1/etc" "$1/tmp"
	cp /bin/busybox "$1/bin/"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
	echo 'root:x:0:' >"$1/etc/group"
	tar -C "$1" -cf "$2" .
}

# bench_ctrd: start ctrd on throw-away dirs, bridge and subnet.
bench_ctrd() {
	bin/ctrd --data-root "$W/data" --exec-root "$W/exec" -H "$CTR_HOST" --cgroup-parent "$CG" \
		--bridge "$BR" --bip "10.254.$((RANDOM % 200)).1/24" --config /dev/null >"$W/ctrd.log" 2>&1 &
	CTRD_PID=$!
	for _ in $(seq 100); do bin/ctr version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "ctrd did not start:" >&2
	tail -5 "$W/ctrd.log" >&2
	exit 1
}

# bench_dockerd: a throw-away dockerd (installing docker.io if missing), for
# side-by-side figures, with busybox imported from $W/busybox.tar. It has no
# bridge and leaves iptables alone (it must not change the host's network),
# so its containers run with --network none.
bench_dockerd() {
	command -v dockerd >/dev/null || apt-get install -y -qq docker.io >/dev/null
	dockerd --data-root "$W/docker" --exec-root "$W/docker-exec" -H "unix://$W/docker.sock" --pidfile "$W/docker.pid" \
		--bridge none --iptables=false >"$W/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST=unix://$W/docker.sock
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
	docker import "$W/busybox.tar" busybox >/dev/null
}

bench_cleanup() {
	set +e
	if [ -n "${DOCKERD_PID:-}" ]; then
		docker rm -f $(docker ps -aq) >/dev/null 2>&1
		kill "$DOCKERD_PID"
		wait "$DOCKERD_PID" 2>/dev/null
	fi
	if [ -n "${CTRD_PID:-}" ]; then
		if kill -0 "$CTRD_PID" 2>/dev/null; then
			bin/ctr rm -f $(bin/ctr ps -aq) >/dev/null 2>&1
			kill "$CTRD_PID"
			wait "$CTRD_PID" 2>/dev/null
		else
			echo "ctrd died; the end of its log:" >&2
			tail -20 "$W/ctrd.log" >&2
		fi
	fi
	grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	ip link del "$BR" 2>/dev/null
	nft delete table ip "ctrd_$BR" 2>/dev/null
	for c in /sys/fs/cgroup/*/"$CG"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
	rm -rf "$W"
}
trap bench_cleanup EXIT
