// Package kubeconformance tests what `modelhub deploy --kube` writes on a real
// Kubernetes: an API server, controller manager, scheduler and kubelet (v1.34.4,
// built from the Go module proxy by scripts/kube-binaries.sh) with a containerd of
// their own, started on 127.0.0.1 by scripts/kube-cluster.sh.
//
// `make kube-conformance` (and .ci/run) builds or reuses the binaries, starts the
// cluster, runs these tests with its environment (KUBECONFIG, MODELHUB_KUBE_DIR,
// MODELHUB_KUBE_CONTAINERD, MODELHUB_KUBE_HOST_IP) and stops the cluster, leaving
// nothing behind, also when a test fails or the run is interrupted. Without that
// environment every test skips, saying so (MODELHUB_REQUIRE_KUBE=1 makes that a
// failure), so `go test ./...` works anywhere. MODELHUB_KUBE_WAIT (seconds, default 300)
// bounds every wait on the cluster.
//
// The tests build their images (the demo engine and the modelhub image, FROM
// scratch) with Docker and import them into the cluster's containerd from
// `docker save` archives: there is no registry. The model's index, git repository
// and weight file are served on the pod bridge's gateway address
// (MODELHUB_KUBE_HOST_IP, 10.244.0.1), which both this machine and the pods reach;
// the bridge routes nowhere else. Tests reach pods through `kubectl port-forward`
// on 127.0.0.1. Every test works in a namespace of its own, deleted at its end.
package kubeconformance
