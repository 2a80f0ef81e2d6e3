package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/modelhub-ai/modelhub/internal/kube"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func Test_NewCmdDeploy_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(*DeployOptions) bool
		wantErr string
	}{
		{args: "squeezenet --kube", check: func(o *DeployOptions) bool {
			return o.Model == "squeezenet" && o.K.Replicas == 1 && o.K.ServiceType == "ClusterIP" && o.K.StartupTimeout == kube.DefaultStartupTimeout && o.Output == ""
		}},
		{args: "m --kube --replicas 3 -n radiology --pvc 20Gi --storage-class ssd --gpu -o x.yaml --name web --memory-limit 4Gi --cpu-request 500m --startup-timeout 30m --modelhub-image reg/modelhub:1",
			check: func(o *DeployOptions) bool {
				k := o.K
				return k.Replicas == 3 && k.Namespace == "radiology" && k.PVCSize == "20Gi" && k.StorageClass == "ssd" && o.GPU &&
					o.Output == "x.yaml" && k.Name == "web" && k.MemoryLimit == "4Gi" && k.CPURequest == "500m" &&
					k.StartupTimeout == 30*time.Minute && k.ModelhubImage == "reg/modelhub:1"
			}},
		{args: "m --kube -o -", check: func(o *DeployOptions) bool { return o.Output == "" }},
		{args: "m", wantErr: "deploy needs a target: pass --kube"},
		{args: "--kube", wantErr: "needs one MODEL"},
		{args: "m --kube --gpu --cpu", wantErr: "--gpu and --cpu contradict"},
		{args: "m --kube --replicas 0", wantErr: "--replicas must be between 1 and 1000"},
		{args: "m --kube --namespace Radiology", wantErr: `--namespace "Radiology" is not a valid namespace`},
		{args: "m --kube --name 1x", wantErr: `--name "1x" is not a valid Kubernetes name`},
		{args: "m --kube --service-type External", wantErr: `--service-type "External"`},
		{args: "m --kube --pvc big", wantErr: `--pvc "big" is not a positive Kubernetes quantity`},
		{args: "m --kube --storage-class ssd", wantErr: "need --pvc SIZE"},
		{args: "m --kube --cpu-request 2 --cpu-limit 1", wantErr: "--cpu-request 2 is above --cpu-limit 1"},
		{args: "m --kube --startup-timeout 0s", wantErr: "--startup-timeout must be between 10s and 24h"},
		{args: "m --kube --job --shards 4 --data-pvc cohort --input-dir ct/2024 --results-dir out", check: func(o *DeployOptions) bool {
			return o.Job && o.J.Shards == 4 && o.J.DataClaim == "cohort" && o.J.InputDir == "ct/2024" && o.J.ResultsDir == "out"
		}},
		{args: "m --kube --job --data-pvc c", check: func(o *DeployOptions) bool {
			return o.Job && o.J.Shards == 1 && o.J.InputDir == kube.DefaultInputDir && o.J.ResultsDir == ""
		}},
		{args: "m --kube --job", wantErr: "--job needs --data-pvc CLAIM"},
		{args: "m --kube --job --data-pvc c --replicas 2", wantErr: "--replicas applies to the Deployment"},
		{args: "m --kube --job --data-pvc c --pvc 1Gi", wantErr: "--pvc applies to the Deployment"},
		{args: "m --kube --shards 2", wantErr: "--shards needs --job"},
		{args: "m --kube --data-pvc c", wantErr: "--data-pvc needs --job"},
		{args: "m --kube --job --data-pvc c --shards 0", wantErr: "--shards must be between 1 and 1000"},
	} {
		got := flagCase(t, NewCmdDeploy, tc.args, tc.wantErr, true)
		if got != nil && !tc.check(got) {
			t.Errorf("%q: got %+v", tc.args, got)
		}
	}
}

// deployFixture serves an index over HTTP with the model "Demo" (two commits,
// docker_id modelhub/demo:N), a GPU model "Big_Model.v2" and a notebook.
func deployFixture(t *testing.T) (f *Factory, out, errOut *strings.Builder, repo *testutil.Repo, first string) {
	t.Helper()
	gs := testutil.NewGitServer(t)
	repo = gs.Repo(t, "demo", map[string]string{"init/init.json": `{"docker_id": "modelhub/demo:1"}`})
	first = repo.Head()
	repo.WriteFiles(map[string]string{"init/init.json": `{"docker_id": "modelhub/demo:2"}`})
	repo.Commit("two")
	index := `[{"id": "1", "name": "Demo", "task_extended": "t", "github": "` + repo.URL + `", "github_branch": "master", "backend": ["onnx"]},
	{"id": "2", "name": "Big_Model.v2", "task_extended": "t", "github": "` + repo.URL + `", "github_branch": "master", "backend": ["pytorch"], "gpu": true},
	{"id": "3", "name": "colab_liver", "task_extended": "t", "github": "` + repo.URL + `", "github_branch": "master", "backend": ["colab"]}]`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(index)) }))
	t.Cleanup(srv.Close)
	f, o, e := testFactory(t, "[]", false, 0)
	f.Opts.Index = srv.URL + "/models.json"
	out, errOut = &strings.Builder{}, &strings.Builder{}
	o.Reset()
	e.Reset()
	f.IO.Out, f.IO.ErrOut = out, errOut
	return f, out, errOut, repo, first
}

func deployOpts(f *Factory, model string) *DeployOptions {
	return &DeployOptions{IO: f.IO, Store: f.Store, IndexLocation: f.IndexLocation, Model: model, Kube: true,
		K: kube.Options{Replicas: 1, ModelhubImage: "reg/modelhub:t", StartupTimeout: kube.DefaultStartupTimeout}}
}

func decodeDeployment(t *testing.T, data string) *appsv1.Deployment {
	t.Helper()
	objs, err := kube.Decode([]byte(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatalf("no Deployment in\n%s", data)
	return nil
}

// A model not installed is pinned to the tip of its branch, read without
// downloading it; an installed one to its installed commit.
func Test_deployRun_pins(t *testing.T) {
	f, out, errOut, repo, first := deployFixture(t)
	ctx := context.Background()
	if err := deployRun(ctx, deployOpts(f, "demo")); err != nil {
		t.Fatal(err)
	}
	d := decodeDeployment(t, out.String())
	pod := d.Spec.Template.Spec
	args := strings.Join(pod.InitContainers[0].Args, " ")
	if want := "pull Demo --commit " + repo.Head() + " --home /models --index " + f.Opts.Index; args != want {
		t.Errorf("init args %q, want %q", args, want)
	}
	if pod.Containers[0].Image != "modelhub/demo:2" || pod.InitContainers[0].Image != "reg/modelhub:t" {
		t.Errorf("images %s %s", pod.Containers[0].Image, pod.InitContainers[0].Image)
	}
	if !strings.Contains(errOut.String(), "Demo is not installed here: pinned to commit "+repo.Head()[:12]+", the tip of branch master now") {
		t.Errorf("stderr %q", errOut.String())
	}
	s, _ := f.Store()
	if names := s.Downloaded(); len(names) != 0 {
		t.Errorf("deploy downloaded %v", names)
	}

	// installed at the first commit: pinned there, with that commit's image
	m, err := s.Resolve(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(ctx, m, store.PullOptions{Commit: first}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if err := deployRun(ctx, deployOpts(f, "DEMO")); err != nil {
		t.Fatal(err)
	}
	d = decodeDeployment(t, out.String())
	if args := strings.Join(d.Spec.Template.Spec.InitContainers[0].Args, " "); !strings.Contains(args, "--commit "+first) {
		t.Errorf("installed model: init args %q, want commit %s", args, first)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "modelhub/demo:1" {
		t.Errorf("installed model: image %s, want the installed commit's", img)
	}
	if !strings.Contains(errOut.String(), "pinned to commit "+first[:12]+" of Demo, the one installed here") {
		t.Errorf("stderr %q", errOut.String())
	}
}

func Test_deployRun_gpuRenameOutput(t *testing.T) {
	f, out, errOut, _, _ := deployFixture(t)
	o := deployOpts(f, "big_model.v2")
	o.Output = filepath.Join(t.TempDir(), "big.yaml")
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q with -o", out.String())
	}
	data, err := os.ReadFile(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeDeployment(t, string(data))
	if !strings.HasPrefix(d.Name, "big-model-v2-") || len(d.Name) != len("big-model-v2-")+6 {
		t.Errorf("name %q", d.Name)
	}
	if _, ok := d.Spec.Template.Spec.Containers[0].Resources.Limits[kube.GPUResource]; !ok {
		t.Errorf("a GPU model without a GPU limit: %+v", d.Spec.Template.Spec.Containers[0].Resources)
	}
	for _, want := range []string{`"Big_Model.v2" is not a valid Kubernetes name: the objects are named ` + d.Name, "wrote " + o.Output + " (Deployment, Service " + d.Name + ")"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr %q lacks %q", errOut.String(), want)
		}
	}

	// --cpu drops the GPU of a GPU model
	o.CPU = true
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(o.Output)
	d = decodeDeployment(t, string(data))
	if _, ok := d.Spec.Template.Spec.Containers[0].Resources.Limits[kube.GPUResource]; ok {
		t.Error("--cpu kept the GPU limit")
	}
}

func Test_deployRun_errors(t *testing.T) {
	f, out, _, _, _ := deployFixture(t)
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "mine")
	if err := os.MkdirAll(filepath.Join(local, "init"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(local, "init", "init.json"), []byte(`{"docker_id": "x"}`), 0o644)

	err := deployRun(ctx, deployOpts(f, "colab_liver"))
	if err == nil || !strings.Contains(err.Error(), "colab_liver is a notebook (backend colab), not a model with a Docker image") {
		t.Errorf("notebook: %v", err)
	}
	err = deployRun(ctx, deployOpts(f, "demox"))
	if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), `did you mean "Demo"?`) {
		t.Errorf("unknown model: %v", err)
	}
	err = deployRun(ctx, deployOpts(f, local))
	if err == nil || !strings.Contains(err.Error(), "is a local model folder: deploy needs a model from the index") {
		t.Errorf("local folder: %v", err)
	}
	o := deployOpts(f, "demo")
	o.Output = filepath.Join(t.TempDir(), "no-such-dir", "x.yaml")
	if err := deployRun(ctx, o); err == nil || !strings.Contains(err.Error(), "write "+o.Output) {
		t.Errorf("unwritable output: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("failures wrote to stdout: %q", out.String())
	}

	// a model found in a local models.json: its pod could not read that file
	idx := filepath.Join(t.TempDir(), "models.json")
	os.WriteFile(idx, []byte(`[{"id": "1", "name": "Demo", "github": "http://127.0.0.1:9/x.git", "backend": ["onnx"]}]`), 0o644)
	lf, lout, _ := testFactory(t, "[]", false, 0) // a new factory: the index is loaded once per process
	lf.Opts.Index = idx
	err = deployRun(ctx, deployOpts(lf, "demo"))
	if err == nil || !strings.Contains(err.Error(), "Demo came from the local index "+idx+", which a pod cannot read") || !strings.Contains(err.Error(), "--cluster-index URL") {
		t.Errorf("local index: %v", err)
	}
	// with --cluster-index the local file serves for rendering: the index is
	// accepted and the lookup goes on (to the entry's repository, which
	// answers nowhere here)
	o = deployOpts(lf, "demo")
	o.ClusterIndex = "https://index.example.org/models.json"
	if err := deployRun(ctx, o); err == nil || strings.Contains(err.Error(), "local index") || !strings.Contains(err.Error(), "127.0.0.1:9") {
		t.Errorf("local index with --cluster-index: %v", err)
	}
	if lout.Len() != 0 {
		t.Errorf("failures wrote to stdout: %q", lout.String())
	}
}
