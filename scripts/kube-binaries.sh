#!/usr/bin/env bash
# Builds the Kubernetes binaries the kube-conformance suite runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl) and etcd, from the Go module
# proxy only (no release download, no registry), into a cache outside the clone keyed by
# version, and prints the cache's bin folder on stdout, e.g.
#   /var/cache/modelhub/k8s/v1.34.4/bin
# A second run reuses the binaries (no build). A cold build took 9 minutes on an idle
# 2-core machine (beside make test, Go caches empty) and 58 minutes on a shared, loaded
# one (27 minutes of CPU); it leaves about 3-4 GB in the Go build cache; the binaries are
# 421 MB.
# Everything else (progress) goes to stderr.
#
# Usage: scripts/kube-binaries.sh
#   MODELHUB_CACHE  cache root (default /var/cache/modelhub, or ~/.cache/modelhub when that
#                   is not writable)
#   KUBE_VERSION    Kubernetes version (default v1.34.4; staging modules are v0.MINOR.PATCH)
#   ETCD_VERSION    etcd version (default v3.6.17)
# Exit 0 with the folder on stdout; 1 when a build fails.
set -euo pipefail

kv=${KUBE_VERSION:-v1.34.4}
ev=${ETCD_VERSION:-v3.6.17}
cache=${MODELHUB_CACHE:-/var/cache/modelhub}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/modelhub
fi
dir=$cache/k8s/$kv
bin=$dir/bin
cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"

have_all() {
  for c in $cmds etcd; do [ -x "$bin/$c" ] || return 1; done
  [ "$(cat "$bin/etcd.version" 2>/dev/null)" = "$ev" ]
}
if have_all; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
# One build at a time per cache.
exec 9>"$dir/.lock"
flock 9
if have_all; then
  echo "$bin"
  exit 0
fi

go=${GO:-go}
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
start=$(date +%s)
mkdir -p "$bin" "$dir/src/kube" "$dir/src/etcd"

# Kubernetes: a scratch module requiring k8s.io/kubernetes; its staging modules
# (k8s.io/api, client-go, ...) are replaced by their published v0.x.y versions, which is
# what the repository's own replace block points at with local paths.
minor=${kv#v1.}
stagingv=v0.$minor
if [ ! -f "$dir/src/kube/.ready" ]; then
  echo "kube-binaries: resolving k8s.io/kubernetes@$kv" >&2
  cd "$dir/src/kube"
  rm -f go.mod go.sum
  cat >go.mod <<EOF
module modelhub.local/kubebuild

go 1.24

godebug default=go1.24
EOF
  modfile=$("$go" mod download -json k8s.io/kubernetes@"$kv" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  {
    echo "require k8s.io/kubernetes $kv"
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$modfile" | grep '=> ./staging' | awk -v v="$stagingv" '{print "\t"$1" => "$1" "v}'
    echo ")"
  } >>go.mod
  pkgs=
  for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c@$kv"; done
  # shellcheck disable=SC2086
  "$go" get $pkgs >&2
  touch .ready
fi

ld="-s -w"
for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $x.gitVersion=$kv -X $x.gitMajor=1 -X $x.gitMinor=${minor%%.*} -X $x.gitTreeState=clean"
done
ld="$ld -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
# One go build for all of them: the packages they share are compiled once, and the
# build schedules the whole graph (KUBE_BUILD_P compile jobs at once, default the CPUs).
# kubectl last: the cluster's own binaries first.
for group in "kube-apiserver kube-controller-manager kube-scheduler kubelet" kubectl; do
todo=
for c in $group; do [ -x "$bin/$c" ] || todo="$todo k8s.io/kubernetes/cmd/$c"; done
if [ -n "$todo" ]; then
  s=$(date +%s)
  rm -rf "$bin/.tmp" && mkdir -p "$bin/.tmp"
  # shellcheck disable=SC2086
  (cd "$dir/src/kube" && "$go" build -p "${KUBE_BUILD_P:-$(nproc)}" -trimpath -ldflags="$ld" -o "$bin/.tmp/" $todo)
  mv "$bin"/.tmp/* "$bin"/ && rmdir "$bin/.tmp"
  echo "kube-binaries:$todo built in $(($(date +%s) - s))s" >&2
fi
done

# etcd: its server's own main, built from go.etcd.io/etcd/server/v3.
if [ ! -x "$bin/etcd" ] || [ "$(cat "$bin/etcd.version" 2>/dev/null)" != "$ev" ]; then
  s=$(date +%s)
  cd "$dir/src/etcd"
  cat >main.go <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  if ! grep -q "go.etcd.io/etcd/server/v3 $ev" go.mod 2>/dev/null; then
    rm -f go.mod go.sum
    printf 'module modelhub.local/etcdbuild\n\ngo 1.24\n' >go.mod
    "$go" get go.etcd.io/etcd/server/v3@"$ev" >&2
    "$go" mod tidy >&2
  fi
  "$go" build -p "${KUBE_BUILD_P:-$(nproc)}" -trimpath -ldflags="-s -w" -o "$bin/etcd.tmp" .
  mv "$bin/etcd.tmp" "$bin/etcd"
  echo "$ev" >"$bin/etcd.version"
  echo "kube-binaries: etcd built in $(($(date +%s) - s))s" >&2
fi

have_all
echo "kube-binaries: $kv and etcd $ev ready in $bin after $(($(date +%s) - start))s ($(du -sh "$bin" | cut -f1))" >&2
echo "$bin"
