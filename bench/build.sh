#!/usr/bin/env bash
# `ctr build` of the seed's 9-step example on a busybox base
# (e2e/testdata/build/httpd: 3 RUN, 2 ADD, 4 metadata steps): a no-cache
# build and a fully cached rebuild, median of N (default 5). Run as root
# after `make binaries`:   bench/build.sh [--with-docker] [-n N]
# --with-docker builds the same Dockerfile with docker's classic builder
# (DOCKER_BUILDKIT=0) on a private dockerd, installing docker.io if needed.
# --compare (implies --with-docker) also builds the testdata Dockerfiles the
# classic builder supports with both, and diffs the images' configs, history
# lines (COPY checksums masked) and file trees.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_DOCKER=0
COMPARE=0
N=5
while [ $# -gt 0 ]; do
	case $1 in
	--with-docker) WITH_DOCKER=1 ;;
	--compare) WITH_DOCKER=1 COMPARE=1 ;;
	-n) N=$2; shift ;;
	*) echo "usage: $0 [--with-docker] [-n N]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
W=$(mktemp -d /tmp/ctrd-bench-XXXXXX)
CG=/ctrd-bench-$$
BR=ctb$(printf %04x $$)
cleanup() {
	set +e
	[ -n "${CTRD_PID:-}" ] && { bin/ctr rm -f $(bin/ctr ps -aq) >/dev/null 2>&1; kill "$CTRD_PID"; wait "$CTRD_PID"; }
	[ -n "${DOCKERD_PID:-}" ] && { docker rm -f $(docker ps -aq) >/dev/null 2>&1; kill "$DOCKERD_PID"; wait "$DOCKERD_PID"; }
	grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	rm -rf "$W"
	ip link del "$BR" 2>/dev/null
	nft list tables 2>/dev/null | awk -v b="$BR" '$1 == "table" && index($3, b) {print $2, $3}' |
		while read -r fam name; do nft delete table "$fam" "$name"; done
	for c in /sys/fs/cgroup/*/$CG /sys/fs/cgroup/$CG; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
}
trap cleanup EXIT
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# times CMD... runs CMD N times and prints the median wall time.
times() { for _ in $(seq "$N"); do s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc; done | median; }

scripts/mkbusybox.sh "$W/busybox.tar" >/dev/null
cp -a e2e/testdata/build/httpd "$W/ctx"

bin/ctrd --data-root "$W/data" --exec-root "$W/exec" -H "unix://$W/ctrd.sock" --cgroup-parent "$CG" \
	--bridge "$BR" --bip 10.253.$((RANDOM % 200)).1/24 --config /dev/null >"$W/ctrd.log" 2>&1 &
CTRD_PID=$!
export CTR_HOST=unix://$W/ctrd.sock
for _ in $(seq 50); do bin/ctr version >/dev/null 2>&1 && break; sleep 0.1; done
bin/ctr import -c 'CMD ["/bin/sh"]' "$W/busybox.tar" busybox:latest >/dev/null

nocache=$(times bin/ctr build --no-cache -q -t bench:httpd "$W/ctx")
bin/ctr build -q -t bench:httpd "$W/ctx" >/dev/null
cached=$(times bin/ctr build -q -t bench:httpd "$W/ctx")
printf '%-55s %.3f s\n' "ctr build --no-cache (9 steps, median of $N)" "$nocache"
printf '%-55s %.3f s\n' "ctr build, all cached (9 steps, median of $N)" "$cached"
bin/ctr run --rm bench:httpd test -x /run.sh

if [ "$WITH_DOCKER" = 1 ]; then
	command -v dockerd >/dev/null || apt-get install -y -qq docker.io >/dev/null
	dockerd --data-root "$W/docker" --exec-root "$W/docker-exec" -H "unix://$W/docker.sock" --pidfile "$W/docker.pid" \
		--bridge none --iptables=false >"$W/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST=unix://$W/docker.sock DOCKER_BUILDKIT=0
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
	docker import -c 'CMD ["/bin/sh"]' "$W/busybox.tar" busybox:latest >/dev/null
	dnocache=$(times docker build --network none --no-cache -q -t bench:httpd "$W/ctx")
	docker build --network none -q -t bench:httpd "$W/ctx" >/dev/null
	dcached=$(times docker build --network none -q -t bench:httpd "$W/ctx")
	printf '%-55s %.3f s\n' "docker build --no-cache (classic builder, median of $N)" "$dnocache"
	printf '%-55s %.3f s\n' "docker build, all cached (classic builder, median of $N)" "$dcached"
	printf '%-55s %.2fx (target <= 0.7x)\n' "ctr / docker, no cache" "$(echo "$nocache / $dnocache" | bc -l)"
	printf '%-55s %.2fx (target <= 0.5x)\n' "ctr / docker, cached" "$(echo "$cached / $dcached" | bc -l)"
fi

[ "$COMPARE" = 1 ] || exit 0

# Each image as text: config fields, history, file tree.
describe() { # describe ctr|docker IMAGE OUT
	local cli=$1 img=$2 out=$3 run
	if [ "$cli" = ctr ]; then cli=bin/ctr; run="bin/ctr run --rm"; else run="docker run --rm --network none"; fi
	$cli inspect -f '{{json .Config}}' "$img" >"$out.config"
	$cli inspect -f '{{json .Author}}' "$img" >>"$out.config"
	$cli history --no-trunc --format '{{.CreatedBy}}' "$img" |
		sed -E 's/(file|dir|multi):[0-9a-f]{64}/\1:<sum>/' >"$out.history"
	$run --user 0 --entrypoint /bin/sh "$img" -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -print |
		grep -vE "^/(etc/(hostname|hosts|resolv.conf|mtab)|.dockerenv)$" | sort | while read -r f; do
		if [ -f "$f" ] && [ ! -L "$f" ]; then stat -c "%n %a %u:%g %F %s" "$f"; else stat -c "%n %a %u:%g %F" "$f"; fi; done' >"$out.files"
}
compare() { # compare NAME: the differences between the two descriptions
	python3 - "$W/cmp/$1" <<'PY'
import json, sys, difflib
base = sys.argv[1]
keys = ["Cmd", "Entrypoint", "Env", "ExposedPorts", "Volumes", "WorkingDir", "User", "Labels",
        "Healthcheck", "OnBuild", "StopSignal", "Shell"]
def cfg(side):
    lines = open(f"{base}.{side}.config").read().splitlines()
    c = json.loads(lines[0]) or {}
    out = {k: c.get(k) or None for k in keys}
    if out["Healthcheck"]:
        out["Healthcheck"] = {k: v for k, v in out["Healthcheck"].items() if v}
    out["Author"] = json.loads(lines[1])
    return out
a, b = cfg("ctr"), cfg("docker")
diffs = [f"  config {k}: ctr {json.dumps(a[k])} docker {json.dumps(b[k])}" for k in a if a[k] != b[k]]
for part in ("history", "files"):
    x = open(f"{base}.ctr.{part}").read().splitlines()
    y = open(f"{base}.docker.{part}").read().splitlines()
    for l in difflib.unified_diff(y, x, "docker", "ctr", n=0, lineterm=""):
        if not l.startswith(("---", "+++", "@@")):
            diffs.append(f"  {part} {l}")
print("\n".join(diffs) if diffs else "  identical")
PY
}
mkdir -p "$W/cmp" "$W/arc/top/inner"
echo in-archive >"$W/arc/top/inner/f.txt"
for c in httpd multistage onbuild/base onbuild/child compare; do
	n=$(echo "$c" | tr / -)
	cp -a "e2e/testdata/build/$c" "$W/cmp/$n.ctx"
	[ "$c" = compare ] && tar --mtime=@1700000000 --owner=0 --group=0 -C "$W/arc" -czf "$W/cmp/$n.ctx/archive.tar.gz" top
	tag=cmp-$n
	[ "$c" = onbuild/base ] && tag=onbuild-base
	bin/ctr build -q -t "$tag" "$W/cmp/$n.ctx" >/dev/null
	docker build -q -t "$tag" "$W/cmp/$n.ctx" >/dev/null 2>&1
	describe ctr "$tag" "$W/cmp/$n.ctr"
	describe docker "$tag" "$W/cmp/$n.docker"
	echo "$c: differences (ctr vs docker's classic builder):"
	compare "$n"
done
