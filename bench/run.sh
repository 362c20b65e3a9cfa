#!/usr/bin/env bash
# bench/run.sh [ARGS...] — run every bench/*.sh except this one, passing ARGS
# (e.g. --with-docker) to each. `make bench` calls it after building.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$dir"/*.sh; do
	case "$(basename "$b")" in run.sh | lib.sh) continue ;; esac
	echo "######## $(basename "$b")"
	bash "$b" "$@" || { echo "######## $(basename "$b") failed" >&2; status=1; }
done
exit $status
