package launch_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A tcp engine on another machine: the files go to a volume, the engine
// picks the server's ports, and URLs name the server; ports bound to its
// loopback cannot be reached from here, which a warning says (with the ssh
// command that would), instead of a wait that cannot succeed.
func TestStart_tcpEngine(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64", NVIDIA: true})}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	d.EndpointFunc = func() dockerrun.Endpoint { return dockerrun.Endpoint{Context: "lab", Host: "tcp://gpu-server:2376"} }
	var synced dockerrun.VolumeSync
	d.SyncVolumeFunc = func(_ context.Context, v dockerrun.VolumeSync) (dockerrun.SyncResult, error) {
		synced = v
		return dockerrun.SyncResult{Created: true, Uploaded: 4096}, nil
	}
	d.ModelVolumesFunc = func(context.Context, string) ([]string, error) {
		return []string{"old-volume", "modelhub-m-local"}, nil
	}
	d.InspectFunc = func(_ context.Context, id string) (dockerrun.Container, error) {
		if id != "cid" {
			return dockerrun.Container{}, dockerrun.ErrContainerNotFound
		}
		return dockerrun.Container{ID: "cid", Running: true, HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80, Host: 32771}}}, nil
	}
	d.CreateFunc = func(context.Context, dockerrun.Spec) (string, error) { return "cid", nil }
	var rec recorder
	h, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", GPUs: "device=1"}, rec.events())
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Specs()[0]
	if spec.ContribSrc != "" || spec.ContribVolume == "" || spec.ContribVolume != synced.Name || synced.Image != "img:1" || !strings.HasSuffix(synced.Source, "contrib_src") {
		t.Errorf("spec %+v, synced %+v: want the volume instead of a bind mount", spec, synced)
	}
	if spec.Ports[0].Host != 0 {
		t.Errorf("ports %+v: want the engine's pick", spec.Ports)
	}
	if h.APIURL != "http://gpu-server:32771" || h.Uploaded != 4096 || h.Volume != synced.Name || h.Engine != "tcp://gpu-server:2376" {
		t.Errorf("handle %+v", h)
	}
	if !d.Called("remove-volume old-volume") || !d.Called("remove-volume modelhub-m-local") {
		t.Errorf("older volumes not pruned: %v", d.Calls())
	}
	out := rec.String()
	if !strings.Contains(out, "copied 4.0 KiB of m's files to volume "+synced.Name+" on the Docker engine at tcp://gpu-server:2376 (context lab)") ||
		!strings.Contains(out, "ssh -L") || !strings.Contains(out, "127.0.0.1:32771 there") {
		t.Errorf("events:\n%s", out)
	}
	if spec.GPUs != "device=1" || !spec.GPU {
		t.Errorf("--gpus: spec GPU %v GPUs %q", spec.GPU, spec.GPUs)
	}
	if ep, remote := h.Remote(); !remote || ep.Host != "tcp://gpu-server:2376" {
		t.Errorf("Remote() = %v, %v", ep, remote)
	}
}

// Folders of this machine are refused before anything is pulled or created.
func TestStart_remoteRefusesMounts(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	d.EndpointFunc = func() dockerrun.Endpoint { return dockerrun.Endpoint{Host: "ssh://me@gpu"} }
	_, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", DataDir: "/home/me/scans"}, launch.Events{})
	if !errors.Is(err, launch.ErrRemoteMount) || !strings.Contains(err.Error(), "--mount-data /home/me/scans") || !strings.Contains(err.Error(), "ssh://me@gpu") {
		t.Errorf("err = %v", err)
	}
	if d.Called("create") || d.Called("sync-volume") {
		t.Errorf("calls %v", d.Calls())
	}
}

// Forward refuses a local engine (nothing to do) and a tcp one (no ssh).
func TestForward_notSSH(t *testing.T) {
	running := func(context.Context, bool) ([]dockerrun.Container, error) {
		return []dockerrun.Container{{ID: "c", Name: "modelhub-m", Model: "m", Running: true, HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80, Host: 8000}}}}, nil
	}
	d := &testutil.FakeDocker{ListFunc: running}
	h, err := launch.Forward(context.Background(), d, "M", 0, 0)
	if !errors.Is(err, launch.ErrLocalEngine) || h == nil || h.APIURL != "http://127.0.0.1:8000" {
		t.Errorf("local: %v, %+v", err, h)
	}
	d.EndpointFunc = func() dockerrun.Endpoint { return dockerrun.Endpoint{Host: "tcp://gpu:2375"} }
	if _, err := launch.Forward(context.Background(), d, "m", 0, 0); err == nil || !strings.Contains(err.Error(), "ssh -L") {
		t.Errorf("tcp: %v", err)
	}
	d.ListFunc = nil
	if _, err := launch.Forward(context.Background(), d, "m", 0, 0); !errors.Is(err, launch.ErrNotRunning) {
		t.Errorf("not running: %v", err)
	}
}
