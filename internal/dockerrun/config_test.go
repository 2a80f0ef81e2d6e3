package dockerrun

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/system"
)

func baseSpec() Spec {
	return Spec{
		Name: "modelhub-demo", Image: "demo:1", Model: "demo", Mode: ModeAPI,
		ContribSrc: "/m/contrib_src", HostIP: "127.0.0.1",
		Ports:  []Port{{Container: 80, Host: 8000}},
		APIURL: "http://127.0.0.1:8000",
	}
}

func TestContainerConfig_gpuDeviceRequest(t *testing.T) {
	s := baseSpec()
	s.GPU = true
	_, hc, _, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
	if len(hc.DeviceRequests) != 1 || hc.DeviceRequests[0].Count != -1 ||
		len(hc.DeviceRequests[0].Capabilities) != 1 || strings.Join(hc.DeviceRequests[0].Capabilities[0], ",") != "gpu" {
		t.Errorf("DeviceRequests = %+v, want %+v", hc.DeviceRequests, want)
	}
	s.GPU = false
	_, hc, _, _ = containerConfig(s)
	if len(hc.DeviceRequests) != 0 {
		t.Errorf("no GPU: DeviceRequests = %+v", hc.DeviceRequests)
	}
}

func TestContainerConfig_portsMountsLabels(t *testing.T) {
	s := baseSpec()
	s.Mode = ModeExpert
	s.Ports = append(s.Ports, Port{Container: 8080, Host: 8888})
	s.NotebookURL = "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=x"
	s.DataDir, s.FrameworkDir = "/d", "/f"
	s.Cmd = []string{"jupyter", "notebook"}
	s.Platform = "linux/arm64/v8"
	cfg, hc, p, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if b := hc.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "8000" {
		t.Errorf("80/tcp binding = %+v", b)
	}
	if b := hc.PortBindings["8080/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "8888" {
		t.Errorf("8080/tcp binding = %+v", b)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Error("8080/tcp not exposed")
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeBind, Source: "/m/contrib_src", Target: "/contrib_src"},
		{Type: mount.TypeBind, Source: "/d", Target: "/data"},
		{Type: mount.TypeBind, Source: "/f", Target: "/framework"},
	}
	if len(hc.Mounts) != 3 {
		t.Fatalf("mounts = %+v", hc.Mounts)
	}
	for i, m := range wantMounts {
		if hc.Mounts[i] != m {
			t.Errorf("mount %d = %+v, want %+v", i, hc.Mounts[i], m)
		}
	}
	for k, v := range map[string]string{LabelModel: "demo", LabelMode: "expert", LabelAPIURL: s.APIURL, LabelNotebookURL: s.NotebookURL} {
		if cfg.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], v)
		}
	}
	if cfg.Tty || cfg.OpenStdin {
		t.Error("expert mode must not allocate a TTY")
	}
	if p == nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("platform = %+v", p)
	}
}

func TestContainerConfig_bashAndErrors(t *testing.T) {
	s := baseSpec()
	s.Mode, s.TTY, s.Cmd, s.Ports = ModeBash, true, []string{"/bin/bash"}, nil
	cfg, hc, _, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Tty || !cfg.OpenStdin || !cfg.AttachStdin || len(hc.PortBindings) != 0 {
		t.Errorf("bash config = %+v", cfg)
	}
	s.Platform = "amd64"
	if _, _, _, err := containerConfig(s); err == nil || !strings.Contains(err.Error(), "os/arch") {
		t.Errorf("bad platform: %v", err)
	}
	if _, _, _, err := containerConfig(Spec{Name: "x"}); err == nil {
		t.Error("empty spec accepted")
	}
}

func TestEngineInfo_nvidia(t *testing.T) {
	tests := []struct {
		name string
		info system.Info
		want bool
	}{
		{"runc only", system.Info{Runtimes: map[string]system.RuntimeWithStatus{"runc": {}}}, false},
		{"nvidia runtime", system.Info{Runtimes: map[string]system.RuntimeWithStatus{"runc": {}, "nvidia": {}}}, true},
		{"nvidia default", system.Info{DefaultRuntime: "nvidia"}, true},
		{"cdi devices", system.Info{DiscoveredDevices: []system.DeviceInfo{{Source: "cdi", ID: "nvidia.com/gpu=0"}}}, true},
		{"other cdi", system.Info{DiscoveredDevices: []system.DeviceInfo{{Source: "cdi", ID: "vendor.com/fpga=0"}}}, false},
	}
	for _, tt := range tests {
		if got := engineInfo(tt.info, "1.41").NVIDIA; got != tt.want {
			t.Errorf("%s: NVIDIA = %v, want %v", tt.name, got, tt.want)
		}
	}
	e := engineInfo(system.Info{OSType: "linux", Architecture: "aarch64"}, "1.41")
	if e.Platform() != "linux/arm64" {
		t.Errorf("platform = %s", e.Platform())
	}
	e = engineInfo(system.Info{NCPU: 8, MemTotal: 16 << 30, DiscoveredDevices: []system.DeviceInfo{
		{Source: "cdi", ID: "nvidia.com/gpu=0"}, {Source: "cdi", ID: "nvidia.com/gpu=1"}, {Source: "cdi", ID: "nvidia.com/gpu=all"}}}, "1.41")
	if e.GPUs != 2 || e.CPUs != 8 || e.Memory != 16<<30 {
		t.Errorf("GPUs %d, CPUs %d, Memory %d", e.GPUs, e.CPUs, e.Memory)
	}
}

func TestPullTracker(t *testing.T) {
	tr := newPullTracker("x:1")
	msgs := []streamMessage{
		{Status: "Pulling from library/x", ID: "1"},
		{Status: "Pulling fs layer", ID: "a"},
		{Status: "Pulling fs layer", ID: "b"},
		{Status: "Already exists", ID: "c"},
		{Status: "Downloading", ID: "a"},
		{Status: "Downloading", ID: "b"},
	}
	msgs[4].ProgressDetail.Current, msgs[4].ProgressDetail.Total = 50, 100
	msgs[5].ProgressDetail.Current, msgs[5].ProgressDetail.Total = 10, 300
	var p PullProgress
	for _, m := range msgs {
		p = tr.update(m)
	}
	if p.Layers != 3 || p.LayersDone != 1 || p.Current != 60 || p.Total != 400 || p.Status != "Pulling from library/x" {
		t.Errorf("mid-pull: %+v", p)
	}
	for _, m := range []streamMessage{{Status: "Download complete", ID: "a"}, {Status: "Pull complete", ID: "a"}, {Status: "Pull complete", ID: "b"}, {Status: "Status: Downloaded newer image for x:1"}} {
		p = tr.update(m)
	}
	if p.LayersDone != 3 || p.Current != 400 || p.Total != 400 || !strings.HasPrefix(p.Status, "Status: Downloaded") {
		t.Errorf("done: %+v", p)
	}
}

func TestReadStream_error(t *testing.T) {
	err := readStream(strings.NewReader(`{"status":"x"}{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`), nil)
	if err == nil || err.Error() != "manifest unknown" {
		t.Errorf("err = %v", err)
	}
	pe := &PullError{Image: "a/b:1", Reason: "manifest unknown"}
	for _, want := range []string{"a/b:1", "manifest unknown", "docker login"} {
		if !strings.Contains(pe.Error(), want) {
			t.Errorf("%q lacks %q", pe.Error(), want)
		}
	}
}

func TestUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	_, err := Connect(t.Context())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	for _, want := range []string{"tcp://127.0.0.1:1", "DOCKER_HOST", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err = Connect(t.Context())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "start Docker") {
		t.Errorf("missing socket: %v", err)
	}
}

// Every container runs an init, unbuffered Python that writes no bytecode;
// a bash-mode container stops on SIGHUP (an interactive bash ignores SIGTERM).
func TestContainerConfig_stopAndEnv(t *testing.T) {
	s := baseSpec()
	cfg, hc, _, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if hc.Init == nil || !*hc.Init {
		t.Errorf("Init = %v, want true", hc.Init)
	}
	if cfg.StopSignal != "" {
		t.Errorf("API mode StopSignal = %q, want the image's (SIGTERM)", cfg.StopSignal)
	}
	env := strings.Join(cfg.Env, " ")
	for _, want := range []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env %q lacks %s", cfg.Env, want)
		}
	}
	s.Mode, s.TTY, s.Cmd = ModeBash, true, []string{"/bin/bash"}
	cfg, hc, _, _ = containerConfig(s)
	if cfg.StopSignal != "SIGHUP" || hc.Init == nil || !*hc.Init {
		t.Errorf("bash mode: StopSignal %q, Init %v; want SIGHUP and an init", cfg.StopSignal, hc.Init)
	}
}
