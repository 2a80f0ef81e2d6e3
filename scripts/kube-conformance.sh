#!/usr/bin/env bash
# `make kube-conformance`: builds or reuses the Kubernetes binaries (scripts/kube-binaries.sh),
# starts a one-node cluster of its own on 127.0.0.1 in a fresh folder
# (scripts/kube-cluster.sh up), runs the kubeconformance suite against it, and stops the
# cluster (scripts/kube-cluster.sh down: by recorded PID, then checks that no process,
# mount, bridge or cgroup is left) whatever happens: a failing test, Ctrl-C (exit 130) or
# SIGTERM. Prints the time each phase took. Extra arguments go to `go test`
# (e.g. -run TestDeploy_GPUStaysPending).
#
# One run at a time on a machine (the cluster's ports are fixed): a second run waits.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

exec 8>"${TMPDIR:-/tmp}/modelhub-kube.lock"
flock 8

t0=$(date +%s)
bin=$(scripts/kube-binaries.sh)
t1=$(date +%s)
dir=$(mktemp -d "${TMPDIR:-/tmp}/modelhub-kube.XXXXXX")

finish() {
  local rc=$?
  trap - EXIT INT TERM
  if scripts/kube-cluster.sh down "$dir"; then
    rm -rf "$dir"
  else
    # Never rm -rf through a mount left behind; say where things are instead.
    echo "kube-conformance: the cluster in $dir was not fully stopped (see above); its folder is kept" >&2
    [ "$rc" = 0 ] && rc=1
  fi
  echo "kube-conformance: binaries $((t1 - t0))s, total $(($(date +%s) - t0))s, exit $rc" >&2
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/kube-cluster.sh up "$dir" "$bin"
t2=$(date +%s)
echo "kube-conformance: cluster up in $((t2 - t1))s" >&2
# shellcheck disable=SC1091
. "$dir/env"
status=0
${GO:-go} test -count=1 -timeout 30m -v ./kubeconformance/ "$@" || status=$?
echo "kube-conformance: tests took $(($(date +%s) - t2))s" >&2
exit "$status"
