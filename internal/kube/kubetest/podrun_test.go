package kubetest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/kube"
)

// The translation of the generated pod into Docker containers, without Docker.
func TestContainerSpec(t *testing.T) {
	res, err := kube.Generate(kube.Options{Model: "Demo", Image: "demo:1", ModelhubImage: "mh:1", Commit: strings.Repeat("a", 40), IndexURL: "http://127.0.0.1:1/models.json"})
	if err != nil {
		t.Fatal(err)
	}
	spec := res.Objects[0].(*appsv1.Deployment).Spec.Template.Spec
	p := &Pod{r: &Runner{Prefix: "pod"}, spec: spec, ids: map[string]string{}, Ports: map[string]map[int]int{},
		volumes: map[string]dockerrun.Volume{"models": {Name: "pod-models", Mountpoint: "/var/lib/docker/volumes/pod-models/_data"}}}

	ic, err := p.containerSpec(spec.InitContainers[0], true)
	if err != nil {
		t.Fatal(err)
	}
	if ic.Entrypoint != nil || strings.Join(ic.Cmd, " ") != "pull Demo --commit "+strings.Repeat("a", 40)+" --home /models --index http://127.0.0.1:1/models.json" {
		t.Errorf("init entrypoint %v cmd %v: want the image's entrypoint with the args", ic.Entrypoint, ic.Cmd)
	}
	if ic.User != "65532:65532" || ic.GroupAdd[0] != "65532" || !ic.ReadOnlyRootfs || !ic.NoNewPrivileges || ic.CapDrop[0] != "ALL" || !ic.HostNetwork {
		t.Errorf("init container %+v", ic)
	}
	if len(ic.Mounts) != 1 || ic.Mounts[0].Volume != "pod-models" || ic.Mounts[0].Target != "/models" {
		t.Errorf("init mounts %+v", ic.Mounts)
	}
	mc, err := p.containerSpec(spec.Containers[0], false)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Image != "demo:1" || mc.Cmd != nil || mc.Entrypoint != nil || mc.User != "" || mc.HostNetwork {
		t.Errorf("model container %+v: want the image unchanged", mc)
	}
	if m := mc.Mounts[0]; m.HostPath != "/var/lib/docker/volumes/pod-models/_data/models/Demo/contrib_src" || m.Target != "/contrib_src" {
		t.Errorf("subPath mount %+v", m)
	}
	if len(mc.Ports) != 1 || mc.Ports[0].Container != 80 || p.Ports["model"][80] != mc.Ports[0].Host || mc.HostIP != "127.0.0.1" {
		t.Errorf("ports %+v %v", mc.Ports, p.Ports)
	}
	if strings.Join(mc.Env, " ") != "PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1" {
		t.Errorf("env %v", mc.Env)
	}

	// what is not emulated is an error, never ignored
	for _, edit := range []func(*corev1.Container){
		func(c *corev1.Container) { c.VolumeMounts[0].SubPath = "../x" },
		func(c *corev1.Container) { c.VolumeMounts[0].Name = "nope" },
		func(c *corev1.Container) { c.Args = []string{"$(HOME)"} },
		func(c *corev1.Container) {
			c.Env = append(c.Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{}})
		},
		func(c *corev1.Container) { c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr(true)} },
	} {
		c := *spec.Containers[0].DeepCopy()
		edit(&c)
		if _, err := p.containerSpec(c, false); err == nil {
			t.Errorf("no error for %+v", c)
		}
	}
}

func ptr[T any](v T) *T { return &v }
