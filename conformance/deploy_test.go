package conformance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/modelhub-ai/modelhub/internal/kube"
	"github.com/modelhub-ai/modelhub/internal/kube/kubetest"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The pod `deploy --kube` writes, run the way the kubelet would on the local
// engine (internal/kube/kubetest) with the real engine: the modelhub image's
// init container pulls the model as a non-root user, the real engine serves
// it from the volume's subPath, and deleting the pod stops the engine through
// the preStop hook (SIGINT to PID 1), not by SIGKILL at the end of the grace
// period.
func TestRealEngine_DeployPod(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := testutil.ModelhubImage(ctx, e.Docker)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pod.yaml")
	e.must("deploy", e.Model, "--kube", "--modelhub-image", img, "-o", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	dep := objs[0].(*appsv1.Deployment)
	spec := dep.Spec.Template.Spec
	if spec.Containers[0].Image != e.Image {
		t.Fatalf("model image %s, want %s", spec.Containers[0].Image, e.Image)
	}

	r := &kubetest.Runner{Docker: e.Docker, Prefix: testutil.UniqueName("modelhub-conformance-pod")}
	pod, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Remove()
	mc := spec.Containers[0]
	if _, err := pod.Probe(ctx, mc.Name, mc.StartupProbe, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	body, err := pod.Probe(ctx, mc.Name, mc.ReadinessProbe, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(body, &cfg); err != nil || cfg["meta"].(map[string]any)["name"] != e.Model {
		t.Fatalf("readiness answer %s (%v), want the model's config", body, err)
	}
	if _, err := pod.Probe(ctx, mc.Name, mc.LivenessProbe, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	stopped, err := pod.Stop(ctx)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	st := stopped[mc.Name]
	t.Logf("pod deletion: preStop %q, engine exit %d, after %s", st.Hook, st.ExitCode, took.Round(10*time.Millisecond))
	if st.ExitCode == 137 {
		t.Errorf("the engine was killed at the end of the grace period (exit 137): the preStop hook did not stop it (%s)", st.Hook)
	}
	if logs := pod.Logs(mc.Name); strings.Contains(logs, "__pycache__") {
		t.Errorf("engine logs mention bytecode files:\n%s", logs)
	}
}
