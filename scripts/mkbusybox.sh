#!/usr/bin/env bash
# mkbusybox.sh OUT.tar — make a busybox root file system tarball from Debian's
# busybox-static (the same rootfs the e2e tests use), ready for
#   ctr import -c 'CMD ["/bin/sh"]' OUT.tar busybox:latest
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: $0 OUT.tar" >&2
	exit 2
fi
out=$1
bb=${BUSYBOX:-/bin/busybox}
if [ ! -x "$bb" ]; then
	echo "$0: $bb not found: apt-get install -y busybox-static" >&2
	exit 1
fi
if ldd "$bb" >/dev/null 2>&1; then
	echo "$0: $bb is dynamically linked: apt-get install -y busybox-static" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mkbusybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,root,tmp,var/www,home/app}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"

# One symlink per applet, all in /bin (as the busybox image on Docker Hub).
"$bb" --list | while read -r applet; do
	[ -z "$applet" ] || [ "$applet" = busybox ] && continue
	ln -s busybox "$root/bin/$applet"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
chown 1000:1000 "$root/home/app"
echo '<html><body>hello from ctrd</body></html>' >"$root/var/www/index.html"

tar --numeric-owner --sort=name -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out: $(du -h "$out" | cut -f1), $(tar -tf "$out" | wc -l) entries"
