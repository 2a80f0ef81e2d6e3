#!/usr/bin/env bash
# A real one-node Kubernetes on this machine, offline, for the kube-conformance suite:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a containerd of its own
# (own root, state and sockets; Docker's containerd is never touched) and the kubelet,
# all listening on 127.0.0.1, everything kept under one folder.
#
#   scripts/kube-cluster.sh up DIR BIN    start it (BIN: the folder scripts/kube-binaries.sh
#                                         prints); writes DIR/env (KUBECONFIG, ...) to source
#   scripts/kube-cluster.sh down DIR      stop everything `up` started, by recorded PID, then
#                                         check nothing is left (exit 1 naming what is)
#   scripts/kube-cluster.sh import DIR TAR...   import `docker save` archives into its containerd
#   scripts/kube-cluster.sh check         exit 1 saying what is missing to run a cluster here
#
# Needs root, containerd and runc (Debian: containerd, runc), the CNI plugins
# (containernetworking-plugins), openssl, curl, iproute2, docker (to build the pause image).
#
# The pod network is a bridge (mhkube0, 10.244.0.0/24, gateway 10.244.0.1 on this machine)
# with no masquerade and no route out: pods reach only each other and this machine's
# 10.244.0.1, where tests serve what pods must download. Tests reach pods through
# `kubectl port-forward` (kubelet and containerd's stream server on 127.0.0.1).
# Two settings this machine needs (see ../shared/k8s-offline/README.md): containerd's
# restrict_oom_score_adj (no CAP_SYS_RESOURCE) and the API server's
# --endpoint-reconciler-type=none (its address is loopback). Pods go into their own cgroup
# root (/modelhub-kube-PID of `up`), so `down` finds and kills every pod process by PID
# even when the kubelet or containerd died first. Every process `up` starts runs in a
# process group of its own (setsid): a Ctrl-C at the terminal does not reach it, so `down`
# stops the cluster in order (pods first, while the kubelet still runs), and `down` stops
# each whole group, children included. The kubelet is told not to make its iptables
# chains (makeIPTablesUtilChains: false) and the bridge has no masquerade, so the cluster
# changes no iptables rule; `down` checks that too.
#
#   MODELHUB_KUBE_WAIT   seconds each component may take to come up (default 300; the
#                        tests use it for their waits too). Raise it on a loaded machine.
set -euo pipefail

BRIDGE=${MODELHUB_KUBE_BRIDGE:-mhkube0}
SUBNET=10.244.0.0/24
GATEWAY=10.244.0.1
WAIT=${MODELHUB_KUBE_WAIT:-300}
case $WAIT in '' | *[!0-9]*) echo "kube-cluster: MODELHUB_KUBE_WAIT=$WAIT is not a number of seconds" >&2 && exit 2 ;; esac
# (unified: the cgroup v2 hierarchy a hybrid cgroup v1 machine mounts beside them.)
CONTROLLERS="blkio cpu cpuacct cpuset devices freezer hugetlb memory net_cls net_prio perf_event pids systemd unified"

die() {
  echo "kube-cluster: $*" >&2
  exit 1
}
log() { echo "kube-cluster: $*" >&2; }

# wait_for SECONDS WHAT CMD...: run CMD until it succeeds, at most SECONDS.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "$what did not come up within ${secs}s"
      return 1
    fi
    sleep 0.3
  done
}

# start NAME CMD...: run CMD in the background in a process group of its own (its PID is
# the group's ID), logs to DIR/logs/NAME.log, PID to DIR/run/NAME.pid.
start() {
  local name=$1 p
  shift
  # This script has no job control, so the background child is no group leader and
  # setsid makes it one in place (no fork: $! is the command's PID).
  setsid "$@" >"$D/logs/$name.log" 2>&1 </dev/null &
  p=$!
  echo "$p" >"$D/run/$name.pid"
  sleep 0.1
  if kill -0 "$p" 2>/dev/null && [ "$(ps -o pgid= -p "$p" | tr -d ' ')" != "$p" ]; then
    die "$name (PID $p) is not in a process group of its own"
  fi
}

alive() { # NAME: is the recorded process still running?
  local f=$D/run/$1.pid
  [ -f "$f" ] && running "$(cat "$f")"
}

# running PID: PID exists and is no zombie (this machine's PID 1 may reap orphans late,
# and kill -0 succeeds on a zombie).
running() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case $st in Z*) return 1 ;; esac
}

# group_running PGID: a process of the group runs (not a zombie).
group_running() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found = 1} END {exit !found}'
}

# check_up NAME: fail with the end of its log when NAME died.
check_up() {
  alive "$1" || {
    tail -n 20 "$D/logs/$1.log" >&2 || true
    die "$1 exited at start (log: $D/logs/$1.log)"
  }
}

pki() {
  local p=$D/pki
  mkdir -p "$p"
  (
    cd "$p"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    key ca
    openssl req -x509 -new -key ca.key -out ca.crt -days 30 -subj "/CN=modelhub-kube-ca" 2>/dev/null
    sign() { # name subject [san]
      key "$1"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      if [ -n "${3:-}" ]; then
        printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$3" >"$1.ext"
      else
        printf "extendedKeyUsage=clientAuth\n" >"$1.ext"
      fi
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$1.ext" 2>/dev/null
    }
    sign apiserver "/CN=kube-apiserver" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1"
    sign admin "/O=system:masters/CN=kubernetes-admin"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    sign controller-manager "/CN=system:kube-controller-manager"
    sign scheduler "/CN=system:kube-scheduler"
    sign kubelet "/O=system:nodes/CN=system:node:localhost"
    sign kubelet-serving "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
    key sa
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
  )
  for u in admin controller-manager scheduler kubelet; do
    cat >"$D/$u.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: modelhub-kube
  cluster:
    certificate-authority: $p/ca.crt
    server: https://127.0.0.1:6443
users:
- name: $u
  user:
    client-certificate: $p/$u.crt
    client-key: $p/$u.key
contexts:
- name: modelhub-kube
  context: {cluster: modelhub-kube, user: $u}
current-context: modelhub-kube
EOF
  done
}

configs() {
  mkdir -p "$D/containerd" "$D/cni/net.d" "$D/cni/ipam"
  cat >"$D/containerd/config.toml" <<EOF
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$D/containerd/containerd.sock"
[ttrpc]
  address = "$D/containerd/containerd.sock.ttrpc"
[debug]
  address = "$D/containerd/debug.sock"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/$PAUSE_REF"
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # This machine lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$D/cni/net.d"
EOF
  # No "routes": a pod has only its subnet (no default route, so nothing leaves the
  # machine), and no ipMasq.
  cat >"$D/cni/net.d/10-modelhub-kube.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "modelhub-kube",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$D/cni/ipam",
        "ranges": [[{"subnet": "$SUBNET", "gateway": "$GATEWAY"}]]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  cat >"$D/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$CGROOT
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$D/containerd/containerd.sock
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $D/pki/kubelet-serving.crt
tlsPrivateKeyFile: $D/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization:
  mode: AlwaysAllow
podLogsDirectory: $D/podlogs
resolvConf: ""
clusterDNS: []
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: true
registerNode: true
# No KUBE-FIREWALL, KUBE-KUBELET-CANARY or KUBE-IPTABLES-HINT chains: there is no
# kube-proxy to use them, and the cluster must leave the machine's iptables as it found them.
makeIPTablesUtilChains: false
EOF
}

pause_image() {
  local w
  w=$(mktemp -d)
  (cd "$ROOT" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o "$w/pause" ./internal/tools/pause)
  printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$w/Dockerfile"
  docker build -q -t "$PAUSE_REF" "$w" >"$D/logs/pause-image.log" 2>&1 || {
    cat "$D/logs/pause-image.log" >&2
    die "docker build of the pause image failed"
  }
  docker save "$PAUSE_REF" -o "$w/pause.tar"
  docker rmi "$PAUSE_REF" >/dev/null 2>&1 || true
  import "$w/pause.tar"
  rm -rf "$w"
}

import() {
  local t
  for t in "$@"; do
    ctr -a "$D/containerd/containerd.sock" -n k8s.io images import "$t" >/dev/null ||
      die "ctr images import $t failed"
  done
}

# prereqs: what the cluster needs from the machine; fails saying the first thing missing.
# Sets CNI_BIN.
prereqs() {
  [ "$(id -u)" = 0 ] || die "needs root (containerd, the kubelet and the pod bridge)"
  local c d
  for c in containerd ctr runc openssl curl ip docker setsid flock iptables-save go; do
    command -v "$c" >/dev/null 2>&1 ||
      die "$c is not installed (Debian: apt-get install containerd runc containernetworking-plugins iptables openssl curl iproute2 util-linux docker.io; go from go.dev)"
  done
  CNI_BIN=
  for d in /usr/lib/cni /opt/cni/bin; do
    if [ -x "$d/bridge" ] && [ -x "$d/host-local" ] && [ -x "$d/loopback" ]; then CNI_BIN=$d && break; fi
  done
  [ -n "$CNI_BIN" ] || die "no CNI plugins (bridge, host-local, loopback) in /usr/lib/cni or /opt/cni/bin (Debian: apt-get install containernetworking-plugins)"
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info): the tests build their images with it"
  [ -d /sys/fs/cgroup/pids ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cgroups under /sys/fs/cgroup"
}

up() {
  prereqs
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    [ -x "$BIN/$c" ] || die "$BIN/$c is missing (build the binaries with scripts/kube-binaries.sh)"
  done
  for port in 2379 2380 2381 6443 10248 10250 10257 10259; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "127.0.0.1:$port is in use: is another cluster running? (stop it with: scripts/kube-cluster.sh down ITS-DIR)"
    fi
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "the bridge $BRIDGE exists already: another cluster, or a leftover (ip link del $BRIDGE)"
  if ip route show | grep -q "^${SUBNET%/*}"; then die "$SUBNET is routed already on this machine: $(ip route show | grep "^${SUBNET%/*}")"; fi

  mkdir -p "$D/run" "$D/logs" "$D/kubelet" "$D/podlogs"
  CGROOT=modelhub-kube-$$
  PAUSE_REF=modelhub-kube-pause:$$
  echo "$CGROOT" >"$D/run/cgroup-root"
  pki
  configs
  iptables_rules >"$D/run/iptables-before"

  # The pod bridge, made here (not by the CNI plugin at the first pod) so that tests can
  # serve on its gateway address before any pod exists.
  echo "$BRIDGE" >"$D/run/bridge"
  ip link add "$BRIDGE" type bridge
  ip addr add "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up

  # The kubelet wants its cgroup root in every controller.
  for c in $CONTROLLERS; do
    if [ -d "/sys/fs/cgroup/$c" ]; then mkdir -p "/sys/fs/cgroup/$c/$CGROOT"; fi
  done

  local P=$D/pki
  start etcd "$BIN/etcd" --name modelhub-kube --data-dir "$D/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster modelhub-kube=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
  start containerd containerd --config "$D/containerd/config.toml"
  wait_for "$WAIT" etcd curl -fs http://127.0.0.1:2379/health || check_up etcd
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 --bind-address=127.0.0.1 \
    --secure-port=6443 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
    --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=Hostname
  wait_for "$WAIT" containerd test -S "$D/containerd/containerd.sock" || { check_up containerd; die "containerd did not make its socket"; }
  log "building the pause image"
  pause_image
  wait_for "$WAIT" kube-apiserver curl -fs --cacert "$P/ca.crt" https://127.0.0.1:6443/readyz || {
    check_up kube-apiserver
    die "kube-apiserver is not ready (log: $D/logs/kube-apiserver.log)"
  }
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$D/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$D/controller-manager.kubeconfig" --authorization-kubeconfig="$D/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --service-account-private-key-file="$P/sa.key" \
    --root-ca-file="$P/ca.crt" --use-service-account-credentials=true --leader-elect=false \
    --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key"
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$D/scheduler.kubeconfig" \
    --authentication-kubeconfig="$D/scheduler.kubeconfig" --authorization-kubeconfig="$D/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
  start kubelet "$BIN/kubelet" --config="$D/kubelet-config.yaml" --kubeconfig="$D/kubelet.kubeconfig" \
    --root-dir="$D/kubelet" --hostname-override=localhost
  wait_for "$WAIT" "node Ready" "$BIN/kubectl" --kubeconfig "$D/admin.kubeconfig" wait --for=condition=Ready node/localhost --timeout=2s || {
    for n in kubelet kube-controller-manager kube-scheduler; do check_up $n; done
    die "the node did not become Ready (log: $D/logs/kubelet.log)"
  }
  # Pods need their namespace's default service account.
  wait_for "$WAIT" "the default service account" "$BIN/kubectl" --kubeconfig "$D/admin.kubeconfig" get serviceaccount default
  cat >"$D/env" <<EOF
export KUBECONFIG=$D/admin.kubeconfig
export PATH=$BIN:\$PATH
export MODELHUB_KUBE_DIR=$D
export MODELHUB_KUBE_CONTAINERD=$D/containerd/containerd.sock
export MODELHUB_KUBE_HOST_IP=$GATEWAY
EOF
  log "cluster up in $D ($("$BIN/kubectl" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | head -1))"
}

# stop NAME: SIGTERM the recorded process's group, SIGKILL what is left of it after 15 s.
stop() {
  local f=$D/run/$1.pid p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  case $p in '' | *[!0-9]* | 0 | 1) rm -f "$f" && return 0 ;; esac
  if kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; then
    for _ in $(seq 50); do
      if ! group_running "$p" && ! running "$p"; then break; fi
      sleep 0.3
    done
    kill -KILL -- "-$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

# iptables_rules: the machine's iptables rules (IPv4 and IPv6, nft and legacy) that could
# be this cluster's: naming its bridge or subnet, or a KUBE- or CNI- chain. Other rules
# (Docker's) come and go with other programs and are not compared.
iptables_rules() {
  local s
  for s in iptables-save ip6tables-save iptables-legacy-save ip6tables-legacy-save; do
    command -v "$s" >/dev/null 2>&1 || continue
    "$s" 2>/dev/null | grep -E -e "$BRIDGE|${SUBNET%.*}\.|KUBE-|CNI-" | sed "s/\[[0-9]*:[0-9]*\]//; s/^/$s: /" || true
  done
}

# cgroup_pids: every process in the pods' cgroup root.
cgroup_pids() {
  local cg
  cg=$(cat "$D/run/cgroup-root" 2>/dev/null) || return 0
  [ -d "/sys/fs/cgroup/pids/$cg" ] || return 0
  find "/sys/fs/cgroup/pids/$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# shim_pids: containerd shims serving this cluster's containerd (their command line names
# its socket, which is under DIR).
shim_pids() {
  pgrep -f -- "-address $D/containerd/containerd.sock" || true
}

# dir_pids: any other process whose command line names DIR (except this script).
dir_pids() {
  local p
  for p in $(pgrep -f -- "$D/" || true); do
    case $(ps -o args= -p "$p" 2>/dev/null) in
    *kube-cluster.sh* | *kube-conformance.sh* | "") ;;
    *) echo "$p" ;;
    esac
  done
}

down() {
  local K="$BIN/kubectl --kubeconfig $D/admin.kubeconfig --request-timeout=10s"
  # The pods' veths go with their network namespaces; note them now, to check at the end.
  local veths=
  veths=$(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' ')
  # Let the kubelet tear pods down properly (preStop, CNI DEL) while it still can:
  # controllers first, so that nothing recreates them.
  stop kube-controller-manager
  stop kube-scheduler
  if alive kubelet && alive kube-apiserver; then
    $K delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 60); do
      [ -z "$($K get pods --all-namespaces -o name 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop kubelet
  if alive containerd; then
    local C="ctr -a $D/containerd/containerd.sock -n k8s.io" t
    for t in $($C tasks ls -q 2>/dev/null); do $C tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.5
    for t in $($C tasks ls -q 2>/dev/null); do $C tasks delete -f "$t" >/dev/null 2>&1 || true; done
  fi
  # Whatever still runs in the pods' cgroups, by PID.
  local p
  for p in $(cgroup_pids); do kill -9 "$p" 2>/dev/null || true; done
  stop containerd
  for p in $(shim_pids); do kill -9 "$p" 2>/dev/null || true; done
  stop kube-apiserver
  stop etcd
  sleep 0.3
  # The kubelet bind-mounts its root onto itself; containerd leaves network namespaces,
  # overlay and shm mounts: unmount everything under DIR, deepest first.
  local m
  for _ in 1 2 3; do
    { grep -o " $D/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  done
  if [ -f "$D/run/bridge" ]; then
    ip link del "$(cat "$D/run/bridge")" 2>/dev/null || true
    rm -f "$D/run/bridge"
  fi
  local cg c
  cg=$(cat "$D/run/cgroup-root" 2>/dev/null || true)
  if [ -n "$cg" ]; then
    for c in $CONTROLLERS; do
      if [ -d "/sys/fs/cgroup/$c/$cg" ]; then find "/sys/fs/cgroup/$c/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
    done
  fi

  # Check: no process, mount, bridge or cgroup of this cluster is left.
  local left=
  local f
  for f in "$D"/run/*.pid; do
    if [ -f "$f" ]; then left="$left process:$(basename "$f" .pid)"; fi
  done
  if [ -n "$(shim_pids)" ]; then left="$left shims:$(shim_pids | tr '\n' ',')"; fi
  if grep -q " $D/" /proc/mounts; then left="$left mounts:$(grep -c " $D/" /proc/mounts)"; fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then left="$left bridge:$BRIDGE"; fi
  local v
  for v in $veths; do
    if ip link show "$v" >/dev/null 2>&1; then left="$left veth:$v"; fi
  done
  if [ -f "$D/run/iptables-before" ]; then
    local added
    added=$(iptables_rules | grep -vxF -f "$D/run/iptables-before" || true)
    if [ -n "$added" ]; then
      log "iptables rules added while the cluster ran:"
      echo "$added" >&2
      left="$left iptables:$(echo "$added" | wc -l)"
    fi
  fi
  if [ -n "$cg" ]; then
    for c in $CONTROLLERS; do
      if [ -d "/sys/fs/cgroup/$c/$cg" ]; then left="$left cgroup:$c/$cg"; fi
    done
  fi
  local pp
  for pp in $(dir_pids); do left="$left pid:$pp"; done
  if [ -n "$left" ]; then
    log "left behind in $D:$left"
    return 1
  fi
  log "stopped; nothing left behind"
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Sourced (to try one step by hand): define the functions only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi
cmd=${1:-}
if [ "$cmd" = check ]; then
  prereqs
  exit 0
fi
D=${2:-}
[ -n "$cmd" ] && [ -n "$D" ] || die "usage: $0 up DIR BIN | down DIR | import DIR TAR... | check"
mkdir -p "$D"
D=$(cd "$D" && pwd)
BIN=${3:-}
case $cmd in
up)
  [ -n "$BIN" ] || die "usage: $0 up DIR BIN"
  echo "$BIN" >"$D/bin" 2>/dev/null || true
  up
  ;;
down)
  BIN=$(cat "$D/bin" 2>/dev/null || echo /nonexistent)
  down
  ;;
import)
  shift 2
  import "$@"
  ;;
*) die "usage: $0 up DIR BIN | down DIR | import DIR TAR... | check" ;;
esac
