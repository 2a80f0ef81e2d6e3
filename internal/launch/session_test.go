package launch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func resolved(t *testing.T, s *store.Store, name string) *store.Model {
	t.Helper()
	m, err := s.Resolve(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A started session runs under a unique name and Release stops and removes it.
func TestAcquire_startedIsReleased(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	serveOnCreate(t, d)
	sess, err := launch.Acquire(context.Background(), deps(s, d),
		launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m")}, Reuse: true, Purpose: "predict", StopGrace: time.Second}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Specs()[0]
	if !strings.HasPrefix(spec.Name, "modelhub-m-predict-") || sess.Container != spec.Name || sess.Image != "img:1" || sess.Reused || sess.External ||
		!sess.Started() || sess.URL != "http://127.0.0.1:"+itoa(spec.Ports[0].Host) {
		t.Errorf("session %+v, spec %+v", sess, spec)
	}
	if err := sess.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !d.Called("stop cid 1s") || !d.Called("remove cid") {
		t.Errorf("calls %v", d.Calls())
	}
	d.ResetCalls()
	if err := sess.Release(context.Background()); err != nil || len(d.Calls()) != 0 {
		t.Errorf("second Release: %v, calls %v", err, d.Calls())
	}
}

// A kept session runs under the model's own name and Release leaves it.
func TestAcquire_keptStays(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	serveOnCreate(t, d)
	sess, err := launch.Acquire(context.Background(), deps(s, d),
		launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m")}, Keep: true}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Specs()[0].Name != "modelhub-m" || sess.Started() || !sess.Kept {
		t.Errorf("session %+v", sess)
	}
	d.ResetCalls()
	if err := sess.Release(context.Background()); err != nil || d.Called("stop") || d.Called("remove") {
		t.Errorf("Release: %v, calls %v", err, d.Calls())
	}
}

// The model's running API container that answers is reused and left alone;
// one that does not answer is not used (a new one starts).
func TestAcquire_reuse(t *testing.T) {
	s, _ := modelDir(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != engine.ReadyRoute {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	running := dockerrun.Container{ID: "r", Name: "modelhub-m", Model: "m", Running: true, Mode: dockerrun.ModeAPI, Image: "img:old",
		HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 80, Host: int(port)}}}
	d := &testutil.FakeDocker{
		ListFunc:    func(context.Context, bool) ([]dockerrun.Container, error) { return []dockerrun.Container{running}, nil },
		InspectFunc: func(context.Context, string) (dockerrun.Container, error) { return running, nil },
	}
	sess, err := launch.Acquire(context.Background(), deps(s, d),
		launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m")}, Reuse: true}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	if !sess.Reused || sess.Started() || sess.URL != srv.URL || sess.Image != "img:old" || sess.Container != "modelhub-m" || d.Called("create") {
		t.Errorf("session %+v, calls %v", sess, d.Calls())
	}
	if err := sess.Release(context.Background()); err != nil || d.Called("stop") || d.Called("remove") {
		t.Errorf("Release: %v, calls %v", err, d.Calls())
	}
}

// An external engine is polled, never started or removed; one that does not
// answer is an error naming it.
func TestAcquire_external(t *testing.T) {
	s, _ := modelDir(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dep := deps(s, nil)
	dep.Docker = func(context.Context) (dockerrun.API, error) { t.Fatal("Docker asked for"); return nil, nil }
	sess, err := launch.Acquire(context.Background(), dep,
		launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m")}, Engine: srv.URL}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	if !sess.External || sess.URL != srv.URL || sess.Image != "img:1" || !sess.GPU || sess.Release(context.Background()) != nil || sess.LogTail(context.Background()) != nil {
		t.Errorf("session %+v", sess)
	}
	srv.Close()
	_, err = launch.Acquire(context.Background(), dep,
		launch.SessionOptions{Options: launch.Options{Resolved: resolved(t, s, "m"), Timeout: 50 * time.Millisecond}, Engine: srv.URL}, launch.Events{})
	if err == nil || !strings.Contains(err.Error(), "the engine at "+srv.URL+" did not answer /api/get_config within 50ms") {
		t.Errorf("err = %v", err)
	}
}

// A cancellation at each step of the start (a Ctrl-C) leaves no container.
func TestAcquire_cancelAtEveryStep(t *testing.T) {
	for _, step := range []string{launch.StepEngine, launch.StepModel, launch.StepImage, launch.StepCreate, launch.StepCreated, launch.StepStarted, launch.StepReady} {
		t.Run(step, func(t *testing.T) {
			s, _ := modelDir(t, false)
			d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
			d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
			serveOnCreate(t, d)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o := launch.Options{Resolved: resolved(t, s, "m"), Step: func(s string) {
				if s == step {
					cancel()
				}
			}}
			sess, err := launch.Acquire(ctx, deps(s, d), launch.SessionOptions{Options: o, Purpose: "predict"}, launch.Events{})
			if !errors.Is(err, context.Canceled) || sess != nil {
				t.Fatalf("Acquire = %v, %v", sess, err)
			}
			if d.Called("create") && !d.Called("remove cid") {
				t.Errorf("container left: calls %v", d.Calls())
			}
		})
	}
}

// LogTailOf frames the log a crash carries, and nothing for other errors.
func TestLogTailOf(t *testing.T) {
	ce := &launch.CrashError{Model: "m", Container: "modelhub-m", Log: []byte("boom\n")}
	if got := launch.LogTailOf(ce); got != "--- last 30 log lines of modelhub-m ---\nboom\n---\n" {
		t.Errorf("crash: %q", got)
	}
	if got := launch.LogTailOf(&launch.CrashError{LogShown: true}); got != "" {
		t.Errorf("shown: %q", got)
	}
	if got := launch.LogTailOf(errors.New("x")); got != "" {
		t.Errorf("other: %q", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
