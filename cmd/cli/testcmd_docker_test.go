package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func Test_dockerTestEngine_Start(t *testing.T) {
	dir := tinyModel(t)
	f, out, _ := testFactory(t, "[]", false, 0)
	var served *http.Server
	d := &testutil.FakeDocker{InfoFunc: engineInfo(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	d.Images(map[string]dockerrun.Image{"a/b:1": {OS: "linux", Arch: "amd64"}})
	// The "container" serves the engine API on the host port it was given.
	d.CreateFunc = func(_ context.Context, s dockerrun.Spec) (string, error) {
		if len(s.Ports) != 1 || s.Ports[0].Container != 80 || s.HostIP != "127.0.0.1" {
			t.Errorf("ports %v on %s, want the API on 127.0.0.1", s.Ports, s.HostIP)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(s.HostIP, strconv.Itoa(s.Ports[0].Host)))
		if err != nil {
			t.Fatalf("the chosen port is not free: %v", err)
		}
		fe := testutil.NewFakeEngine([]byte(tinyConfig))
		served = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(fe.Config)
		})}
		go served.Serve(l)
		return "cid", nil
	}
	e := &dockerTestEngine{d: d, io: f.IO}
	base, stop, err := e.Start(context.Background(), dir, "tiny", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	specs := d.Specs()
	if len(specs) != 1 {
		t.Fatalf("specs %v", specs)
	}
	s := specs[0]
	if !strings.HasPrefix(s.Name, "modelhub-tiny-test-") || len(s.Name) != len("modelhub-tiny-test-")+8 {
		t.Errorf("container name %q, want modelhub-tiny-test-XXXXXXXX", s.Name)
	}
	if s.Model != "tiny" || s.Image != "a/b:1" || s.Mode != dockerrun.ModeAPI || s.ContribSrc != filepath.Join(dir, "contrib_src") || s.Cmd != nil {
		t.Errorf("spec %+v", s)
	}
	if base != "http://127.0.0.1:"+strconv.Itoa(s.Ports[0].Host) {
		t.Errorf("base URL %s", base)
	}
	if out.Len() != 0 {
		t.Errorf("run's output reached stdout: %q", out)
	}
	if d.Called("stop") || d.Called("remove") {
		t.Error("stopped before the test ran")
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !d.Called("stop cid 3s") || !d.Called("remove cid") {
		t.Errorf("calls %v, want stop and remove", d.Calls())
	}
}

func Test_dockerTestEngine_StartRefuses(t *testing.T) {
	f, _, _ := testFactory(t, "[]", false, 0)
	d := &testutil.FakeDocker{InfoFunc: engineInfo(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	e := &dockerTestEngine{d: d, io: f.IO}

	dir := tinyModel(t)
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(`{"docker_id": "YOUR IMAGE", "external_contrib_files": []}`), 0o644)
	if _, _, err := e.Start(context.Background(), dir, "tiny", time.Second); err == nil || !strings.Contains(err.Error(), "modelhub validate") {
		t.Errorf("placeholder docker_id: %v", err)
	}

	dir = tinyModel(t)
	os.MkdirAll(filepath.Join(dir, ".modelhub"), 0o755)
	os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), []byte(`{"complete": true, "entry": {"name": "tiny", "gpu": true}}`), 0o644)
	if _, _, err := e.Start(context.Background(), dir, "tiny", time.Second); err == nil || !strings.Contains(err.Error(), "NVIDIA") {
		t.Errorf("GPU model without a GPU: %v", err)
	}
	if d.Called("create") {
		t.Error("created a container anyway")
	}
}

func Test_dockerTestEngine_RunningAndPort(t *testing.T) {
	f, _, _ := testFactory(t, "[]", false, 0)
	list := []dockerrun.Container{
		{Name: "modelhub-tiny", Model: "tiny", Running: true, Ports: []dockerrun.Port{{Container: 8080, Host: 9999}, {Container: 80, Host: 8123}}},
		{Name: "modelhub-tiny-test-1", Model: "Tiny", Running: true},
		{Name: "old", Model: "tiny", Running: false},
		{Name: "modelhub-other", Model: "other", Running: true},
		{Name: "modelhub-noport", Model: "noport", Running: true},
	}
	d := &testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) { return list, nil }}
	e := &dockerTestEngine{d: d, io: f.IO}
	ctx := context.Background()
	if n, err := e.Running(ctx, "tiny"); err != nil || n != 2 {
		t.Errorf("Running(tiny) = %d, %v; want 2 (case-insensitive, running only)", n, err)
	}
	if n, _ := e.Running(ctx, "absent"); n != 0 {
		t.Errorf("Running(absent) = %d", n)
	}
	if p, err := e.Port(ctx, "tiny"); err != nil || p != 8123 {
		t.Errorf("Port(tiny) = %d, %v; want the host port of container port 80", p, err)
	}
	if _, err := e.Port(ctx, "absent"); err == nil || !strings.Contains(err.Error(), "no container of absent is running") {
		t.Errorf("Port(absent): %v", err)
	}
	if _, err := e.Port(ctx, "noport"); err == nil || !strings.Contains(err.Error(), "publishes no REST API port") {
		t.Errorf("Port(noport): %v", err)
	}
}
