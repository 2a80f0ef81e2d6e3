package kubeconformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `modelhub deploy MODEL --kube | kubectl apply -f -` on the real cluster: the objects
// pass server-side validation, the init container pulls the model from the served index
// and git server, the pod becomes Ready through its startup and readiness probes, the
// Service answers predictions through `kubectl port-forward`, a second apply changes
// nothing, and deleting the Deployment stops the model through the preStop hook within
// the grace period. The demo engine here ignores SIGTERM, like the real engine's
// python3 running as PID 1: only the hook's SIGINT (or SIGKILL at the end of the grace
// period) can stop it.
func TestDeploy_ReadyServesStops(t *testing.T) {
	e := newEnv(t, `{"ignore_sigterm": true}`)
	manifest := e.deploy()
	e.must(manifest, "kubectl", "-n", e.NS, "apply", "--dry-run=server", "-f", "-")

	// The documented way, as a shell pipeline.
	out := e.must(nil, "bash", "-o", "pipefail", "-c",
		fmt.Sprintf("%q deploy %s --kube --modelhub-image %s --namespace %s | kubectl apply -f -", binPath, e.Model, e.ModelhubImage, e.NS))
	for _, want := range []string{"deployment.apps/" + e.Model + " created", "service/" + e.Model + " created"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply said:\n%s\nwant %q", out, want)
		}
	}
	e.kubectl("rollout", "status", "deployment/"+e.Model, kubeTimeout())
	pod := e.waitPod(e.Model, "Ready", Pod.Ready)
	if st := pod.Status.InitContainerStatuses; len(st) != 1 || st[0].State.Terminated == nil || st[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("init container status %+v, want one that exited 0", st)
	}
	fetch := e.kubectl("logs", pod.Metadata.Name, "-c", "fetch")
	if !strings.Contains(fetch, e.Model+" is ready") || !strings.Contains(fetch, "commit "+e.Repo.Head()[:12]) {
		t.Errorf("the init container's log does not show the pinned commit %s installed:\n%s", e.Repo.Head()[:12], fetch)
	}
	if n := e.Files.Count(e.WeightsPath); n != 1 {
		t.Errorf("the weight file was downloaded %d times, want once (by the init container)", n)
	}

	// The pod's network stays on this machine: no default route, nothing routed beyond
	// the pod subnet (and the suite's servers on its gateway answer, as the init
	// container showed).
	checkNoRouteOut(t)

	// Predictions through the Service.
	base := e.portForward("service/"+e.Model, 80)
	var cfg struct {
		Meta struct{ Name string } `json:"meta"`
	}
	if err := json.Unmarshal(get(t, base+"/api/get_config"), &cfg); err != nil || cfg.Meta.Name == "" {
		t.Fatalf("get_config through the Service: %v %+v", err, cfg)
	}
	for _, img := range []string{"bright", "dark"} {
		if got := predictLabel(t, base, filepath.Join("..", "demo", "model", "contrib_src", "sample_data", img+".png")); got != img {
			t.Errorf("%s.png through the Service: top label %q, want %q", img, got, img)
		}
	}

	// Applying the same manifest again changes nothing.
	again := e.must(manifest, "kubectl", "apply", "-f", "-")
	for _, line := range strings.Split(strings.TrimSpace(again), "\n") {
		if !strings.HasSuffix(line, " unchanged") {
			t.Errorf("second apply: %q, want every object unchanged", line)
		}
	}
	if out, errs, code := e.run(manifest, "kubectl", "diff", "-f", "-"); code != 0 {
		t.Errorf("kubectl diff after apply: exit %d\n%s%s", code, out, errs)
	}
	if p := e.pods(e.Model); len(p) != 1 || p[0].Metadata.UID != pod.Metadata.UID {
		t.Errorf("the second apply replaced the pod")
	}

	// Deleting the Deployment: the preStop hook stops the engine (SIGINT, exit 130)
	// before the grace period ends (SIGKILL, 137).
	last := watchPod(t, e.NS, pod.Metadata.Name)
	start := time.Now()
	e.kubectl("delete", "deployment", e.Model, "--wait=false")
	final := <-last
	took := time.Since(start)
	var model *ContainerStatus
	for i := range final.Status.ContainerStatuses {
		if final.Status.ContainerStatuses[i].Name == "model" {
			model = &final.Status.ContainerStatuses[i]
		}
	}
	if model == nil || model.State.Terminated == nil {
		t.Fatalf("the pod's last state has no terminated model container: %+v", final.Status)
	}
	t.Logf("pod deleted after %s; model container: exit %d (%s); grace period %ds",
		took.Round(100*time.Millisecond), model.State.Terminated.ExitCode, model.State.Terminated.Reason, final.Spec.TerminationGracePeriodSeconds)
	// SIGINT from the hook ends the engine: the demo engine (Go, no SIGINT handler) exits 2
	// as PID 1 (the runtime cannot die of the signal there: PID 1 ignores a signal's default
	// action), 130 elsewhere; 137 is SIGKILL at the end of the grace period, and SIGTERM
	// is ignored here.
	if code := model.State.Terminated.ExitCode; code != 2 && code != 130 {
		t.Errorf("the model container ended with exit %d, want 2 or 130 (SIGINT from the preStop hook; 137 is SIGKILL at the end of the grace period)", code)
	}
	if grace := time.Duration(final.Spec.TerminationGracePeriodSeconds) * time.Second; took >= grace {
		t.Errorf("the pod took %s to go, not less than its grace period %s: the hook did not stop the engine", took, grace)
	}
	for _, ev := range e.events("Pod", pod.Metadata.Name) {
		if strings.HasPrefix(ev, "FailedPreStopHook") {
			t.Errorf("event %s", ev)
		}
	}
}

// predictLabel posts file to the engine's /api/predict and returns the top label.
func predictLabel(t *testing.T, base, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", filepath.Base(file))
	_, _ = fw.Write(data)
	_ = mw.Close()
	c := &http.Client{Timeout: waitTimeout}
	resp, err := c.Post(base+"/api/predict", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res struct {
		Output []struct {
			Prediction []struct {
				Label string `json:"label"`
			} `json:"prediction"`
		} `json:"output"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &res) != nil || len(res.Output) == 0 || len(res.Output[0].Prediction) == 0 {
		t.Fatalf("predict %s: %s: %s", file, resp.Status, raw)
	}
	return res.Output[0].Prediction[0].Label
}

// watchPod watches pod until it is deleted and sends its last state.
func watchPod(t *testing.T, ns, pod string) <-chan Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	cmd := exec.CommandContext(ctx, "kubectl", "-n", ns, "get", "pod", pod, "--watch", "--output-watch-events", "-o", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan Pod, 1)
	first := make(chan struct{})
	go func() {
		// kubectl --watch goes on after the DELETED event: stop it, then reap it.
		defer func() { cancel(); _ = cmd.Wait() }()
		dec := json.NewDecoder(bufio.NewReader(out))
		var last Pod
		started := false
		for {
			var ev struct {
				Type   string `json:"type"`
				Object Pod    `json:"object"`
			}
			if err := dec.Decode(&ev); err != nil {
				break
			}
			if !started {
				started = true
				close(first)
			}
			last = ev.Object
			if ev.Type == "DELETED" {
				break
			}
		}
		if !started {
			close(first)
		}
		ch <- last
	}()
	select {
	case <-first: // the watch runs: what follows is seen
	case <-time.After(waitTimeout):
		t.Fatalf("kubectl get --watch did not start within %s", waitTimeout)
	}
	return ch
}

// The PVC variant keeps the model's files across a pod restart: the replacement pod's
// init container finds them on the claim (a hostPath volume of this node here) and
// downloads nothing.
func TestDeploy_PVCKeepsFilesAcrossRestart(t *testing.T) {
	e := newEnv(t, "")
	dir, err := os.MkdirTemp("", "modelhub-kube-pv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The init container runs as the modelhub image's user; a hostPath volume ignores fsGroup.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	pv := "mh-pv-" + randomHex(5)
	e.must([]byte(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: %s, name: %s-models}
  hostPath: {path: %s, type: Directory}
`, pv, e.NS, e.Model, dir)), "kubectl", "apply", "-f", "-")
	t.Cleanup(func() { _ = exec.Command("kubectl", "delete", "pv", pv, "--wait=false").Run() })

	manifest := e.deploy("--pvc", "100Mi")
	e.must(manifest, "kubectl", "apply", "--dry-run=server", "-f", "-")
	e.must(manifest, "kubectl", "apply", "-f", "-")
	e.kubectl("rollout", "status", "deployment/"+e.Model, kubeTimeout())
	first := e.waitPod(e.Model, "Ready", Pod.Ready)
	if got := e.kubectl("get", "pvc", e.Model+"-models", "-o", "jsonpath={.status.phase} {.spec.volumeName}"); got != "Bound "+pv {
		t.Fatalf("claim: %q, want Bound %s", got, pv)
	}
	weights := filepath.Join(dir, "models", e.Model, "contrib_src", "model", "weights.bin")
	if _, err := os.Stat(weights); err != nil {
		t.Fatalf("the weight file is not on the claim's volume: %v", err)
	}

	e.kubectl("delete", "pod", first.Metadata.Name, "--wait=false")
	second := e.waitPod(e.Model, "Ready after the first was deleted", func(p Pod) bool {
		return p.Metadata.UID != first.Metadata.UID && p.Metadata.DeletionTimestamp == "" && p.Ready()
	})
	fetch := e.kubectl("logs", second.Metadata.Name, "-c", "fetch")
	if !strings.Contains(fetch, "is already downloaded") {
		t.Errorf("the second pod's init container did not find the files:\n%s", fetch)
	}
	if n := e.Files.Count(e.WeightsPath); n != 1 {
		t.Errorf("the weight file was downloaded %d times, want once: the claim did not keep it", n)
	}
	base := e.portForward("pod/"+second.Metadata.Name, 80)
	if got := predictLabel(t, base, filepath.Join("..", "demo", "model", "contrib_src", "sample_data", "bright.png")); got != "bright" {
		t.Errorf("second pod: top label %q, want bright", got)
	}
}

// A GPU request on a node without GPUs: the pod stays Pending and the scheduler says
// why in an event.
func TestDeploy_GPUStaysPending(t *testing.T) {
	e := newEnv(t, "")
	manifest := e.deploy("--gpu")
	e.must(manifest, "kubectl", "apply", "-f", "-")
	var pod Pod
	deadline := time.Now().Add(waitTimeout)
	for {
		if pods := e.pods(e.Model); len(pods) == 1 {
			pod = pods[0]
			evs := e.events("Pod", pod.Metadata.Name)
			if len(evs) > 0 {
				if pod.Status.Phase != "Pending" {
					t.Fatalf("pod phase %s, want Pending", pod.Status.Phase)
				}
				joined := strings.Join(evs, "\n")
				if !strings.Contains(joined, "FailedScheduling: ") || !strings.Contains(joined, "Insufficient nvidia.com/gpu") {
					t.Fatalf("events:\n%s\nwant FailedScheduling ... Insufficient nvidia.com/gpu", joined)
				}
				t.Logf("scheduler event: %s", joined)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduling event within %s", waitTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st := e.pods(e.Model)[0].Status; st.Phase != "Pending" || len(st.InitContainerStatuses) > 0 && st.InitContainerStatuses[0].State.Terminated != nil {
		t.Errorf("the GPU pod ran: %+v", st)
	}
}

// Every variant of the objects passes the API server's own validation (strict: an
// unknown or duplicate field is an error), and a manifest with an unknown field is
// refused, so the check can fail.
func TestDeploy_ServerSideValidation(t *testing.T) {
	e := newEnv(t, "")
	for _, args := range [][]string{
		nil,
		{"--replicas", "3", "--pvc", "20Gi", "--storage-class", "fast-ssd"},
		{"--pvc", "1Gi", "--pvc-access-mode", "ReadWriteOncePod"},
		{"--gpu", "--service-type", "LoadBalancer", "--cpu-request", "500m", "--cpu-limit", "2", "--memory-request", "1Gi", "--memory-limit", "4Gi"},
		{"--service-type", "NodePort", "--startup-timeout", "45m", "--name", "renamed-model"},
	} {
		manifest := e.deploy(args...)
		out, errs, code := e.run(manifest, "kubectl", "apply", "--dry-run=server", "--validate=strict", "-f", "-")
		if code != 0 {
			t.Errorf("deploy %s: kubectl apply --dry-run=server: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	bad := bytes.Replace(e.deploy(), []byte("  replicas: 1\n"), []byte("  replicas: 1\n  replicaz: 2\n"), 1)
	if _, errs, code := e.run(bad, "kubectl", "apply", "--dry-run=server", "--validate=strict", "-f", "-"); code == 0 || !strings.Contains(errs, "replicaz") {
		t.Errorf("an unknown field passed server-side validation (exit %d): %s", code, errs)
	}
}

// checkNoRouteOut checks, in the network namespace of every task running in the
// cluster's containerd, that there is no default route and that an address off the
// machine is unreachable.
func checkNoRouteOut(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ctr", "-a", os.Getenv(EnvContainerd), "-n", "k8s.io", "tasks", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v: %s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "RUNNING" {
			continue
		}
		n++
		routes, err := exec.Command("nsenter", "-t", f[1], "-n", "ip", "-4", "route", "show").CombinedOutput()
		if err != nil {
			t.Fatalf("routes of task %s: %v: %s", f[0], err, routes)
		}
		if strings.Contains(string(routes), "default") || !strings.Contains(string(routes), "10.244.0.0/24") {
			t.Errorf("task %s (PID %s) routes:\n%s\nwant only the pod subnet 10.244.0.0/24", f[0], f[1], routes)
		}
		if got, err := exec.Command("nsenter", "-t", f[1], "-n", "ip", "route", "get", "192.0.2.1").CombinedOutput(); err == nil {
			t.Errorf("task %s (PID %s) has a route off the machine: %s", f[0], f[1], got)
		}
	}
	if n == 0 {
		t.Fatalf("no running task in the cluster's containerd:\n%s", out)
	}
	t.Logf("%d running tasks: no default route, 192.0.2.1 unreachable", n)
}
