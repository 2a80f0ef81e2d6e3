#!/usr/bin/env bash
# `make kube-conformance`: builds or reuses the Kubernetes binaries (scripts/kube-binaries.sh),
# starts a one-node cluster of its own on 127.0.0.1 in a fresh folder
# (scripts/kube-cluster.sh up), runs the kubeconformance suite against it, and stops the
# cluster (scripts/kube-cluster.sh down: by recorded PID, then checks that no process,
# mount, bridge, veth, iptables rule or cgroup is left) whatever happens: a failing test,
# Ctrl-C (exit 130) or SIGTERM (143). Prints the time each phase took. Extra arguments go
# to `go test` (e.g. -run TestDeploy_GPUStaysPending).
#
# The cluster's start and the tests each run in a process group of their own, waited for
# in the background, so a signal to this script alone (not only a Ctrl-C at the
# terminal) stops them at once: SIGINT to the group, SIGKILL to what is left of it after
# 30 s, then the cluster goes down. The tests' temporary files are under the run's folder,
# removed with it.
#
#   MODELHUB_KUBE_WAIT  seconds for each wait on the cluster (default 300; see
#                       scripts/kube-cluster.sh)
#
# One run at a time on a machine (the cluster's ports are fixed): a second run waits.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Without what a cluster needs (root, containerd, runc, the CNI plugins, iptables, Docker,
# ...) the suite is skipped, loudly, before any build; MODELHUB_REQUIRE_KUBE=1 (CI) makes
# that a failure.
if ! why=$(scripts/kube-cluster.sh check 2>&1); then
  why=${why#kube-cluster: }
  if [ "${MODELHUB_REQUIRE_KUBE:-}" = 1 ]; then
    echo "kube-conformance: FAIL: $why" >&2
    exit 1
  fi
  echo "kube-conformance: SKIP: $why (MODELHUB_REQUIRE_KUBE=1 makes this a failure)" >&2
  exit 0
fi

exec 8>"${TMPDIR:-/tmp}/modelhub-kube.lock"
flock 8

t0=$(date +%s)
bin=$(scripts/kube-binaries.sh)
t1=$(date +%s)
dir=$(mktemp -d "${TMPDIR:-/tmp}/modelhub-kube.XXXXXX")
child=
groups=

# group CMD...: run CMD in a process group of its own and wait for it (interruptibly).
group() {
  setsid "$@" &
  child=$!
  groups="$groups $child"
  local rc=0
  wait "$child" || rc=$?
  child=
  return "$rc"
}

# stop_group: SIGINT to the running group, SIGKILL to what is left after 30 s.
stop_group() {
  [ -n "$child" ] || return 0
  local g=$child
  child=
  kill -INT -- "-$g" 2>/dev/null || return 0
  for _ in $(seq 100); do
    # Zombies do not count: this machine's PID 1 may reap orphans late.
    ps -eo pgid=,stat= | awk -v g="$g" '$1 == g && $2 !~ /^Z/ {f = 1} END {exit !f}' || return 0
    sleep 0.3
  done
  echo "kube-conformance: process group $g still runs 30 s after SIGINT: SIGKILL" >&2
  kill -KILL -- "-$g" 2>/dev/null || true
  sleep 0.5
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  trap '' INT TERM # the cleanup itself is not interrupted
  stop_group
  # Whatever a finished group left running (a test's stray child): named, then killed.
  local g left
  for g in $groups; do
    left=$(ps -eo pid=,pgid=,stat=,args= | awk -v g="$g" '$2 == g && $3 !~ /^Z/' || true)
    if [ -n "$left" ]; then
      echo "kube-conformance: still running in process group $g, killed:" >&2
      echo "$left" >&2
      kill -KILL -- "-$g" 2>/dev/null || true
    fi
  done
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

group scripts/kube-cluster.sh up "$dir" "$bin"
t2=$(date +%s)
echo "kube-conformance: cluster up in $((t2 - t1))s" >&2
# shellcheck disable=SC1091
. "$dir/env"
mkdir -p "$dir/tmp"
status=0
group env TMPDIR="$dir/tmp" "${GO:-go}" test -count=1 -timeout "${KUBE_TEST_TIMEOUT:-45m}" -v ./kubeconformance/ "$@" || status=$?
echo "kube-conformance: tests took $(($(date +%s) - t2))s" >&2
exit "$status"
