package kube

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const commit = "0123456789abcdef0123456789abcdef01234567"

func base() Options {
	return Options{
		Model: "squeezenet", Image: "modelhub/squeezenet:latest", ModelhubImage: "ghcr.io/modelhub-ai/modelhub:v1.2.3",
		Commit: commit, Branch: "master", IndexURL: "https://example.org/models.json",
	}
}

// Objects is a decoded manifest stream.
type objects struct {
	dep   *appsv1.Deployment
	svc   *corev1.Service
	claim *corev1.PersistentVolumeClaim
	kinds []string
}

// decodeStrict decodes a stream strictly (an unknown or misspelled field is
// an error) into the k8s.io/api types.
func decodeStrict(t *testing.T, data []byte) objects {
	t.Helper()
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var out objects
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out.dep = o
		case *corev1.Service:
			out.svc = o
		case *corev1.PersistentVolumeClaim:
			out.claim = o
		}
		out.kinds = append(out.kinds, obj.GetObjectKind().GroupVersionKind().Kind)
	}
	return out
}

func TestDecode_strict(t *testing.T) {
	data, _ := generate(t, base())
	for _, bad := range []struct{ from, to, want string }{
		{"      automountServiceAccountToken: false\n", "      automountServiceAccountToken: false\n      hostNetwork: true\n      hostNetworks: true\n", `unknown field "hostNetworks"`},
		{"  type: ClusterIP\n", "  type: ClusterIP\n  clusterIPs: 1\n", "document 2 (Service)"},
		{"kind: Service", "kind: Secret", `unexpected kind "v1" "Secret"`},
	} {
		_, err := Decode(bytes.Replace(data, []byte(bad.from), []byte(bad.to), 1))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.to, err, bad.want)
		}
	}
}

func generate(t *testing.T, o Options) ([]byte, *Result) {
	t.Helper()
	res, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal("modelhub deploy "+o.Model+" --kube", res.Objects)
	if err != nil {
		t.Fatal(err)
	}
	return data, res
}

func TestGolden(t *testing.T) {
	gpu := base()
	gpu.Model, gpu.Image, gpu.GPU, gpu.Namespace, gpu.Replicas = "DeepScan-BraTS", "modelhub/deepscan:gpu", true, "radiology", 2
	gpu.CPURequest, gpu.MemoryRequest, gpu.MemoryLimit = "2", "8Gi", "16Gi"
	pvc := base()
	pvc.PVCSize, pvc.StorageClass, pvc.ServiceType = "20Gi", "fast-ssd", "LoadBalancer"
	for _, tc := range []struct {
		name string
		o    Options
	}{{"cpu", base()}, {"gpu", gpu}, {"pvc", pvc}} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := generate(t, tc.o)
			decodeStrict(t, got)
			path := filepath.Join("testdata", tc.name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/kube -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generated YAML (if the change is intended: go test ./internal/kube -run TestGolden -update):\n%s", path, got)
			}
		})
	}
}

func TestGenerate_cpu(t *testing.T) {
	data, res := generate(t, base())
	o := decodeStrict(t, data)
	if strings.Join(o.kinds, ",") != "Deployment,Service" || res.Name != "squeezenet" || res.Renamed {
		t.Fatalf("kinds %v name %s renamed %v", o.kinds, res.Name, res.Renamed)
	}
	for _, meta := range []map[string]string{o.dep.Labels, o.svc.Labels, o.dep.Spec.Template.Labels, o.dep.Spec.Selector.MatchLabels, o.svc.Spec.Selector} {
		if meta[LabelName] != "squeezenet" || meta[LabelManagedBy] != "modelhub" {
			t.Errorf("labels %v", meta)
		}
	}
	if o.svc.Spec.Type != corev1.ServiceTypeClusterIP || o.svc.Spec.Ports[0].Port != 80 || o.svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("service %+v", o.svc.Spec)
	}
	pod := o.dep.Spec.Template.Spec
	if *o.dep.Spec.Replicas != 1 || pod.Volumes[0].EmptyDir == nil || o.dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("replicas %d volumes %+v strategy %s", *o.dep.Spec.Replicas, pod.Volumes, o.dep.Spec.Strategy.Type)
	}
	// The server's defaults spelled out, so that a second `kubectl apply` sends no patch
	// (kubeconformance TestDeploy_ReadyServesStops applies twice on a real API server).
	if ru := o.dep.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" {
		t.Errorf("rollingUpdate %+v, want maxSurge and maxUnavailable 25%% (the API server's defaults)", ru)
	}
	ic := pod.InitContainers[0]
	wantArgs := "pull squeezenet --commit " + commit + " --home /models --index https://example.org/models.json"
	if ic.Image != "ghcr.io/modelhub-ai/modelhub:v1.2.3" || strings.Join(ic.Args, " ") != wantArgs || len(ic.Command) != 0 {
		t.Errorf("init container %s %v %v, want args %s", ic.Image, ic.Command, ic.Args, wantArgs)
	}
	// the index travels as the flag and as the env of the init container
	env := map[string]string{}
	for _, e := range ic.Env {
		env[e.Name] = e.Value
	}
	if env["MODELHUB_INDEX"] != "https://example.org/models.json" || env["MODELHUB_CACHE"] != "/models/.cache" {
		t.Errorf("init env %v", ic.Env)
	}
	sc := ic.SecurityContext
	if !*sc.RunAsNonRoot || *sc.RunAsUser != UID || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("init security context %+v", sc)
	}
	if ic.VolumeMounts[0].MountPath != "/models" || ic.VolumeMounts[0].SubPath != "" {
		t.Errorf("init mounts %+v", ic.VolumeMounts)
	}
	mc := pod.Containers[0]
	if mc.Image != "modelhub/squeezenet:latest" || len(mc.Command)+len(mc.Args) != 0 {
		t.Errorf("model container runs %s %v %v, want the image unchanged", mc.Image, mc.Command, mc.Args)
	}
	if m := mc.VolumeMounts[0]; m.MountPath != "/contrib_src" || m.SubPath != "models/squeezenet/contrib_src" || m.Name != pod.Volumes[0].Name {
		t.Errorf("model mount %+v", m)
	}
	if p := mc.ReadinessProbe.HTTPGet; p == nil || p.Path != "/api/get_config" || p.Port.IntValue() != 80 {
		t.Errorf("readiness %+v", mc.ReadinessProbe)
	}
	if p := mc.StartupProbe; p.HTTPGet.Path != "/api/get_config" || time.Duration(p.PeriodSeconds*p.FailureThreshold)*time.Second < DefaultStartupTimeout {
		t.Errorf("startup probe %+v allows less than %s", p, DefaultStartupTimeout)
	}
	if p := mc.LivenessProbe; p.TCPSocket == nil || p.HTTPGet != nil {
		t.Errorf("liveness %+v, want a TCP check", p)
	}
	if h := mc.Lifecycle.PreStop.Exec; h == nil || !strings.Contains(strings.Join(h.Command, " "), "signal.SIGINT") {
		t.Errorf("preStop %+v, want SIGINT to PID 1", mc.Lifecycle.PreStop)
	}
	if _, ok := mc.Resources.Limits[GPUResource]; ok || len(pod.Tolerations) != 0 {
		t.Errorf("a CPU model asks for a GPU: %+v %+v", mc.Resources, pod.Tolerations)
	}
	if o.dep.Annotations[AnnotationCommit] != commit || o.dep.Namespace != "" {
		t.Errorf("annotations %v namespace %q", o.dep.Annotations, o.dep.Namespace)
	}
}

func TestGenerate_gpuPVCNamespace(t *testing.T) {
	o := base()
	o.GPU, o.PVCSize, o.Replicas, o.Namespace, o.MemoryLimit, o.StartupTimeout = true, "5Gi", 3, "radiology", "4Gi", 25*time.Second
	data, _ := generate(t, o)
	d := decodeStrict(t, data)
	if strings.Join(d.kinds, ",") != "PersistentVolumeClaim,Deployment,Service" {
		t.Fatalf("kinds %v", d.kinds)
	}
	for _, ns := range []string{d.dep.Namespace, d.svc.Namespace, d.claim.Namespace} {
		if ns != "radiology" {
			t.Errorf("namespace %q", ns)
		}
	}
	pod := d.dep.Spec.Template.Spec
	mc := pod.Containers[0]
	if q := mc.Resources.Limits[GPUResource]; q.String() != "1" || mc.Resources.Limits.Memory().String() != "4Gi" {
		t.Errorf("limits %v", mc.Resources.Limits)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "nvidia.com/gpu" {
		t.Errorf("tolerations %+v", pod.Tolerations)
	}
	if mc.StartupProbe.FailureThreshold != 3 {
		t.Errorf("startup failure threshold %d for 25s, want 3", mc.StartupProbe.FailureThreshold)
	}
	if pod.Volumes[0].PersistentVolumeClaim.ClaimName != d.claim.Name || d.claim.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("claim %+v volume %+v; 3 replicas want ReadWriteMany", d.claim.Spec, pod.Volumes[0])
	}
	if d.dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s with a shared claim", d.dep.Spec.Strategy.Type)
	}
	if q := d.claim.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" {
		t.Errorf("claim size %v", q)
	}

	// one replica: ReadWriteOnce, and pods are replaced rather than overlapped
	o.Replicas = 1
	data, _ = generate(t, o)
	d = decodeStrict(t, data)
	if d.claim.Spec.AccessModes[0] != corev1.ReadWriteOnce || d.dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("one replica: %v %s", d.claim.Spec.AccessModes, d.dep.Spec.Strategy.Type)
	}
}

func TestGenerate_invalid(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Namespace = "Radiology" }, `--namespace "Radiology" is not a valid namespace`},
		{func(o *Options) { o.Name = "9lives" }, `--name "9lives" is not a valid Kubernetes name`},
		{func(o *Options) { o.ServiceType = "ExternalName" }, `--service-type "ExternalName": want ClusterIP, NodePort or LoadBalancer`},
		{func(o *Options) { o.PVCSize = "lots" }, `--pvc "lots" is not a positive Kubernetes quantity`},
		{func(o *Options) { o.PVCSize = "-1Gi" }, `--pvc "-1Gi" is not a positive`},
		{func(o *Options) { o.CPURequest, o.CPULimit = "2", "500m" }, "--cpu-request 2 is above --cpu-limit 500m"},
		{func(o *Options) { o.MemoryLimit = "4GB!" }, `--memory-limit "4GB!"`},
		{func(o *Options) { o.StorageClass = "x" }, "need --pvc SIZE"},
		{func(o *Options) { o.PVCSize, o.AccessMode = "1Gi", "ReadOnlyMany" }, `--pvc-access-mode "ReadOnlyMany"`},
		{func(o *Options) { o.Commit = "abc" }, "not a full commit hash"},
		{func(o *Options) { o.Image = "" }, "has no docker_id"},
		{func(o *Options) { o.Replicas = -1 }, "--replicas must be at least 1"},
	} {
		o := base()
		tc.edit(&o)
		_, err := Generate(o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", o, err, tc.want)
		}
	}
}

func TestObjectName(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, tc := range []struct {
		in, want string
		renamed  bool
	}{
		{"squeezenet", "squeezenet", false},
		{"DeepScan-BraTS", "deepscan-brats", false},
		{"colab_liver", "colab-liver-", true},
		{"v1.2", "v1-2-", true},
		{"3d-unet", "model-3d-unet-", true},
		{"__", "model-", true},
		{long, strings.Repeat("a", 56) + "-", true},
	} {
		got, renamed := ObjectName(tc.in)
		if renamed != tc.renamed || (tc.renamed && !strings.HasPrefix(got, tc.want)) || (!tc.renamed && got != tc.want) {
			t.Errorf("ObjectName(%q) = %q %v, want %q… renamed=%v", tc.in, got, renamed, tc.want, tc.renamed)
		}
		if errs := validation.IsDNS1035Label(got); len(errs) > 0 {
			t.Errorf("ObjectName(%q) = %q is not a DNS-1035 label: %v", tc.in, got, errs)
		}
		if tc.renamed && len(got) != len(strings.TrimRight(tc.want, "-"))+7 && len(got) != 63 {
			t.Errorf("ObjectName(%q) = %q: want a 6-digit hash suffix", tc.in, got)
		}
	}
	if got, _ := ObjectName("colab_liver"); got != "colab-liver-7674cb" {
		t.Errorf("ObjectName(colab_liver) = %s, want the README's example colab-liver-7674cb", got)
	}
	a, _ := ObjectName("a_b")
	b, _ := ObjectName("a.b")
	if a == b {
		t.Errorf("a_b and a.b both became %s", a)
	}
}

// Every option combination decodes strictly and every name fits.
func TestGenerate_allDecode(t *testing.T) {
	for i, name := range []string{"x", "Cardiac-FCN", "colab_lungmask", strings.Repeat("Long_Name.", 12)} {
		for _, pvc := range []string{"", "1Gi"} {
			for _, gpu := range []bool{false, true} {
				o := base()
				o.Model, o.PVCSize, o.GPU, o.Replicas = name, pvc, gpu, int32(i+1)
				data, res := generate(t, o)
				d := decodeStrict(t, data)
				objs := []runtime.Object{d.dep, d.svc}
				if pvc != "" {
					objs = append(objs, d.claim)
				}
				for _, obj := range objs {
					n := fmt.Sprint(obj.(interface{ GetName() string }).GetName())
					if len(validation.IsDNS1123Subdomain(n)) > 0 || len(res.Name) > 63 {
						t.Errorf("%s: object name %q", name, n)
					}
				}
			}
		}
	}
}

// YAML injection (issue 21, "what held"): strings from the index, the model's
// init.json and the command line are values (or a comment) in the manifest,
// never YAML of their own: each payload is refused or comes back exactly,
// and the stream holds the same objects as without it.
func TestGenerate_yamlInjection(t *testing.T) {
	payloads := []string{"x\n---\napiVersion: v1\nkind: Pod", "a\": b", "x\n  hostNetwork: true", "&a [*a, *a]", "{{x}}", "x # y", "x\r\nkind: Secret"}
	generated := map[string]int{}
	defer func() {
		t.Logf("generated (not refused) per field: %v", generated)
		if generated["IndexURL"] == 0 || generated["Branch"] == 0 || generated["Model"] == 0 {
			t.Errorf("every payload was refused in some field (%v): the test proves little", generated)
		}
	}()
	for _, p := range payloads {
		for _, field := range []string{"Model", "Image", "IndexURL", "Branch"} {
			o := base()
			switch field {
			case "Model":
				o.Model = p
			case "Image":
				o.Image = p
			case "IndexURL":
				o.IndexURL = p
			case "Branch":
				o.Branch = p
			}
			res, err := Generate(o)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%s %q: %v", field, p, err)
				}
				continue
			}
			data, err := Marshal("modelhub deploy "+o.Model+" --kube", res.Objects)
			if err != nil {
				t.Errorf("%s %q: %v", field, p, err)
				continue
			}
			generated[field]++
			d := decodeStrict(t, data)
			if strings.Join(d.kinds, ",") != "Deployment,Service" {
				t.Errorf("%s %q: the stream holds %v", field, p, d.kinds)
				continue
			}
			spec := d.dep.Spec.Template.Spec
			if spec.HostNetwork {
				t.Errorf("%s %q: hostNetwork set", field, p)
			}
			all := strings.Join(append(append([]string{spec.Containers[0].Image}, spec.InitContainers[0].Args...), spec.InitContainers[0].Command...), "\x00")
			for k, v := range d.dep.Annotations {
				all += "\x00" + k + "=" + v
			}
			for k, v := range d.dep.Spec.Template.Annotations {
				all += "\x00" + k + "=" + v
			}
			for _, e := range spec.InitContainers[0].Env {
				all += "\x00" + e.Value
			}
			if field != "Model" && !strings.Contains(all, p) {
				t.Errorf("%s %q: not found exactly in the decoded objects (%q)", field, p, all)
			}
		}
	}
}
