#!/usr/bin/env bash
# Builds the real modelhub engine image (the upstream Flask engine on a Debian base,
# from ../shared/realengine) and prints its reference on stdout, e.g.
#   modelhub-realengine:3f1c0a9b7d2e
# The tag is a hash of every file under the recipe folder, so a second run on the same
# machine reuses the image (no build); a fresh machine builds it in about 4 minutes.
# Everything else (progress, the build's own output) goes to stderr.
#
# Usage: scripts/realengine-image.sh          (root; installs mmdebstrap with apt-get if missing)
#   REALENGINE_DIR  the recipe folder (default: ../shared/realengine next to the repository,
#                   or next to the main checkout when run from a git worktree)
# Exit 0 with the reference on stdout; 1 when the recipe is missing or the build fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${REALENGINE_DIR:-$root/../shared/realengine}
if [ -z "${REALENGINE_DIR:-}" ] && [ ! -d "$dir" ]; then
  # In a git worktree, ../shared sits next to the main checkout.
  common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  [ -n "$common" ] && dir=$(dirname "$common")/../shared/realengine
fi
if [ ! -f "$dir/build-image.sh" ] || [ ! -f "$dir/build-rootfs.sh" ]; then
  echo "realengine-image: no engine recipe in $dir (build-rootfs.sh, build-image.sh); set REALENGINE_DIR" >&2
  exit 1
fi
dir=$(cd "$dir" && pwd)

# Hash of the inputs: every file's path (relative) and content, in a stable order.
hash=$(cd "$dir" && find . -type f ! -name 'rootfs*.tar' -print0 | LC_ALL=C sort -z |
  xargs -0 sha256sum | sha256sum | cut -c1-12)
ref="modelhub-realengine:$hash"

if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "$ref"
  exit 0
fi

# One build at a time on this machine: build-image.sh uses fixed intermediate tags.
exec 9>"${TMPDIR:-/tmp}/modelhub-realengine.lock"
flock 9
if docker image inspect "$ref" >/dev/null 2>&1; then # built by another run meanwhile
  echo "$ref"
  exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
  echo "realengine-image: installing mmdebstrap" >&2
  # apt may be locked by another installer: wait for it (bounded) rather than fail.
  ok=
  for _ in $(seq 1 60); do
    if apt-get -o DPkg::Lock::Timeout=60 install -y -q mmdebstrap >&2; then ok=1; break; fi
    apt-get -o DPkg::Lock::Timeout=60 update -q >&2 || true
    sleep 5
  done
  [ -n "$ok" ] || { echo "realengine-image: could not install mmdebstrap; run: apt-get install mmdebstrap" >&2; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "realengine-image: building $ref from $dir (about 4 minutes)" >&2
start=$(date +%s)
"$dir/build-rootfs.sh" "$work/rootfs.tar" >&2
"$dir/build-image.sh" "$dir/engine" "$work/rootfs.tar" >&2
docker tag realengine/modelhub-engine:bookworm "$ref"
echo "realengine-image: built $ref in $(( $(date +%s) - start )) s" >&2
echo "$ref"
