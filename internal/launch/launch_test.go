package launch_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func TestContainerName(t *testing.T) {
	for in, want := range map[string]string{"squeezenet": "modelhub-squeezenet", "My Model (v2)": "modelhub-My-Model--v2--%08x", "a_b.c": "modelhub-a_b.c", "Ünïcode": "modelhub---n--code-%08x"} {
		if strings.Contains(want, "%") {
			want = fmt.Sprintf(want, crc32.ChecksumIEEE([]byte(in)))
		}
		if got := launch.ContainerName(in); got != want {
			t.Errorf("ContainerName(%q) = %q, want %q", in, got, want)
		}
	}
	// models whose names differ only in replaced characters get their own containers
	for _, pair := range [][2]string{{"a b", "a-b"}, {"Ä-x", "Ö-x"}} {
		if launch.ContainerName(pair[0]) == launch.ContainerName(pair[1]) {
			t.Errorf("%q and %q share the container name %s", pair[0], pair[1], launch.ContainerName(pair[0]))
		}
	}
	if n := launch.UniqueContainerName("m", "test"); !strings.HasPrefix(n, "modelhub-m-test-") || len(n) != len("modelhub-m-test-")+8 {
		t.Errorf("UniqueContainerName = %q", n)
	}
}

func TestPoller_Wait(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	p := launch.Poller{Client: srv.Client(), Interval: time.Millisecond}
	if err := p.Wait(context.Background(), srv.URL, 5*time.Second, nil); err != nil || calls.Load() != 3 {
		t.Fatalf("Wait = %v after %d requests, want nil after 3", err, calls.Load())
	}
	// never ready: ErrNotReady naming the last answer and the flag to raise
	// (a second, so that on a loaded machine some 503 has come back by then)
	calls.Store(-1 << 20)
	err := p.Wait(context.Background(), srv.URL, time.Second, nil)
	if !errors.Is(err, launch.ErrNotReady) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "--timeout") {
		t.Errorf("never ready: %v", err)
	}
	// an exited container ends the wait
	exited := make(chan struct{})
	close(exited)
	if err := p.Wait(context.Background(), "http://127.0.0.1:1", time.Minute, exited); !errors.Is(err, launch.ErrExited) {
		t.Errorf("exited: %v", err)
	}
	// cancellation is not a timeout
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx, srv.URL, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// recorder collects launch's events.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func (r *recorder) events() launch.Events {
	return launch.Events{
		Note: func(s string) { r.add("note: " + s) },
		Warn: func(s string) { r.add("warn: " + s) },
		ImagePull: func(ref string) (func(dockerrun.PullProgress), func(dockerrun.PullProgress, error)) {
			r.add("image pull " + ref)
			return func(dockerrun.PullProgress) {}, func(_ dockerrun.PullProgress, err error) { r.add(fmt.Sprintf("image pulled %s: %v", ref, err)) }
		},
		Starting: func(h *launch.Handle) { r.add("starting " + h.Container) },
		Stopping: func(h *launch.Handle) { r.add("stopping " + h.Container) },
		Stopped:  func(h *launch.Handle) { r.add("stopped " + h.Container) },
	}
}

// modelDir makes a downloaded model "m" (image img:1) under a fresh home.
func modelDir(t *testing.T, gpu bool) (*store.Store, string) {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "models", "m")
	for _, d := range []string{"init", "contrib_src", ".modelhub"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(`{"docker_id": "img:1", "external_contrib_files": []}`), 0o644)
	os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), []byte(fmt.Sprintf(`{"complete": true, "entry": {"name": "m", "gpu": %v}}`, gpu)), 0o644)
	return &store.Store{Home: home}, dir
}

func deps(s *store.Store, d dockerrun.API) launch.Deps {
	return launch.Deps{Store: s, Docker: func(context.Context) (dockerrun.API, error) { return d, nil },
		Poller: launch.Poller{Interval: time.Millisecond}}
}

func info(i dockerrun.EngineInfo) func(context.Context) (dockerrun.EngineInfo, error) {
	return func(context.Context) (dockerrun.EngineInfo, error) { return i, nil }
}

// serveOnCreate makes the fake's Create start an engine API on the host port
// of container port 80, as the real container would once started.
func serveOnCreate(t *testing.T, d *testutil.FakeDocker) {
	d.CreateFunc = func(_ context.Context, s dockerrun.Spec) (string, error) {
		l, err := net.Listen("tcp", net.JoinHostPort(s.HostIP, strconv.Itoa(s.Ports[0].Host)))
		if err != nil {
			t.Fatalf("the chosen port is not free: %v", err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return "cid", nil
	}
}

func TestStart_api(t *testing.T) {
	s, dir := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	serveOnCreate(t, d)
	var rec recorder
	h, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, rec.events())
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Specs()[0]
	if spec.Name != "modelhub-m" || spec.Image != "img:1" || spec.Mode != dockerrun.ModeAPI || spec.HostIP != "127.0.0.1" ||
		spec.ContribSrc != filepath.Join(dir, "contrib_src") || len(spec.Ports) != 1 || spec.Ports[0].Container != 80 || spec.GPU {
		t.Errorf("spec %+v", spec)
	}
	u := h.URLs()
	base := "http://127.0.0.1:" + strconv.Itoa(spec.Ports[0].Host)
	if u.API != base || u.Config != base+"/api/get_config" || u.WebUI != base+"/" || h.APIPort != spec.Ports[0].Host || spec.APIURL != base {
		t.Errorf("URLs %+v, handle %+v", u, h)
	}
	if !strings.Contains(rec.String(), "starting modelhub-m") || d.Called("pull") {
		t.Errorf("events %s, calls %v", rec.String(), d.Calls())
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !d.Called("stop cid 10s") || !d.Called("remove cid") || !strings.Contains(rec.String(), "stopped modelhub-m") {
		t.Errorf("calls %v, events %s", d.Calls(), rec.String())
	}
}

// Bash mode publishes the REST API and the notebook ports, like start.py did,
// and attaches before it starts.
func TestStart_bashPublishesBothPorts(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"}),
		AttachFunc: func(context.Context, string) (*dockerrun.Attachment, error) { return nil, nil }}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	api, jup := testutil.FreePort(t), testutil.FreePort(t)
	h, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", Mode: dockerrun.ModeBash, APIPort: api, JupyterPort: jup}, launch.Events{})
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Specs()[0]
	want := []dockerrun.Port{{Container: 80, Host: api}, {Container: 8080, Host: jup}}
	if fmt.Sprint(spec.Ports) != fmt.Sprint(want) || !spec.TTY || strings.Join(spec.Cmd, " ") != "/bin/bash" {
		t.Errorf("spec %+v", spec)
	}
	u := h.URLs()
	if u.APIPort != "http://127.0.0.1:"+strconv.Itoa(api) || u.Jupyter != "http://127.0.0.1:"+strconv.Itoa(jup) {
		t.Errorf("URLs %+v", u)
	}
	calls := strings.Join(d.Calls(), ",")
	if strings.Index(calls, "attach") > strings.Index(calls, "start") {
		t.Errorf("started before attaching: %s", calls)
	}
	h.Remove(context.Background())
}

func TestStart_gpu(t *testing.T) {
	s, _ := modelDir(t, true)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	_, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, launch.Events{})
	var ge *launch.NoGPUError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "needs an NVIDIA GPU (the index marks m as a GPU model)") {
		t.Fatalf("err = %v", err)
	}
	if d.Called("create") || d.Called("pull") || d.Called("inspect-image") {
		t.Errorf("something was done before the GPU check: %v", d.Calls())
	}
	// --cpu runs it without; --gpu asks for one for any model
	for _, tc := range []struct {
		modelGPU bool
		choice   launch.GPU
		want     bool
	}{{true, launch.GPUOff, false}, {false, launch.GPUOn, true}, {true, launch.GPUAuto, true}, {false, launch.GPUAuto, false}} {
		s, _ := modelDir(t, tc.modelGPU)
		d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{NVIDIA: true}),
			CreateFunc: func(context.Context, dockerrun.Spec) (string, error) { return "", errors.New("stop here") }}
		d.Images(map[string]dockerrun.Image{})
		if _, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", GPU: tc.choice}, launch.Events{}); err == nil || err.Error() != "stop here" {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got := d.Specs()[0].GPU; got != tc.want {
			t.Errorf("%+v: GPU %v", tc, got)
		}
	}
}

// A Ctrl-C while the create request is in flight: the request completes
// (it is not cancelled), and the container it made is removed at once.
func TestStart_cancelDuringCreate(t *testing.T) {
	s, _ := modelDir(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{})}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	d.CreateFunc = func(cctx context.Context, s dockerrun.Spec) (string, error) {
		cancel() // the signal arrives mid-request
		if cctx.Err() != nil {
			return "", cctx.Err() // the engine may have made it anyway: we would never learn its ID
		}
		return "made", nil
	}
	_, err := launch.Start(ctx, deps(s, d), launch.Options{Model: "m"}, launch.Events{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !d.Called("remove made") || d.Called("start") {
		t.Errorf("calls %v: want the created container removed and never started", d.Calls())
	}
}

// A create that fails after a cancellation removes a Created container of
// the name that carries the model's label.
func TestStart_cancelledCreateFails(t *testing.T) {
	s, _ := modelDir(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{})}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	d.CreateFunc = func(context.Context, dockerrun.Spec) (string, error) {
		cancel()
		return "", errors.New("connection reset")
	}
	d.InspectFunc = func(_ context.Context, name string) (dockerrun.Container, error) {
		if d.Called("create") {
			return dockerrun.Container{ID: "orphan", Name: name, Model: "m", State: "created"}, nil
		}
		return dockerrun.Container{}, dockerrun.ErrContainerNotFound
	}
	if _, err := launch.Start(ctx, deps(s, d), launch.Options{Model: "m"}, launch.Events{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !d.Called("remove orphan") {
		t.Errorf("calls %v", d.Calls())
	}
}

func TestStart_crashAndTimeout(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{}),
		WaitFunc: func(context.Context, string) (int, error) { return 3, nil }}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	_, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", APIPort: testutil.FreePort(t)}, launch.Events{})
	var ce *launch.CrashError
	if !errors.As(err, &ce) || ce.Code != 3 || string(ce.Log) != "engine log line\n" || !strings.Contains(err.Error(), "exited with code 3 before it was ready (the end of its log is above)") {
		t.Fatalf("err = %v (%+v)", err, ce)
	}
	if !d.Called("remove id-modelhub-m") {
		t.Errorf("calls %v", d.Calls())
	}

	d = &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{})}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	_, err = launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", APIPort: testutil.FreePort(t), Timeout: 50 * time.Millisecond}, launch.Events{})
	var te *launch.TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "did not answer at http://127.0.0.1:") || !d.Called("stop id-modelhub-m 0s") || !d.Called("remove id-modelhub-m") {
		t.Fatalf("err = %v, calls %v", err, d.Calls())
	}
}

// Ctrl-C while waiting for the model: it is stopped and removed; a second
// Ctrl-C (Kill) kills it at once.
func TestStart_cancelWhileWaiting(t *testing.T) {
	s, _ := modelDir(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	kill := make(chan struct{})
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{})}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	d.StopFunc = func(ctx context.Context, id string, grace time.Duration) error {
		close(kill)
		<-ctx.Done() // a container ignoring SIGTERM: only the kill ends it
		return ctx.Err()
	}
	var rec recorder
	cancelStarted := func(s string) {
		if s == launch.StepStarted {
			cancel()
		}
	}
	_, err := launch.Start(ctx, deps(s, d), launch.Options{Model: "m", APIPort: testutil.FreePort(t), Kill: kill, Step: cancelStarted}, rec.events())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !d.Called("kill id-modelhub-m") || !d.Called("remove id-modelhub-m") || !strings.Contains(rec.String(), "stopping modelhub-m\nstopped modelhub-m") {
		t.Errorf("calls %v, events %s", d.Calls(), rec.String())
	}
}

// A cancellation during the start request lets it finish (the engine
// would start the container anyway) and removes the container.
func TestStart_cancelDuringStart(t *testing.T) {
	s, _ := modelDir(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	d := &testutil.FakeDocker{InfoFunc: info(dockerrun.EngineInfo{})}
	d.Images(map[string]dockerrun.Image{"img:1": {}})
	d.StartFunc = func(sctx context.Context, id string) error {
		cancel()
		return sctx.Err() // the request is not cut short
	}
	_, err := launch.Start(ctx, deps(s, d), launch.Options{Model: "m", APIPort: testutil.FreePort(t)}, launch.Events{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !d.Called("remove id-modelhub-m") || !d.Called("inspect id-modelhub-m") {
		t.Errorf("calls %v: want the container removed and its removal checked", d.Calls())
	}
}

func TestStart_alreadyRunningAndLeftover(t *testing.T) {
	s, _ := modelDir(t, false)
	d := &testutil.FakeDocker{InspectFunc: func(_ context.Context, name string) (dockerrun.Container, error) {
		return dockerrun.Container{ID: "old", Name: name, Running: true, APIURL: "http://127.0.0.1:8000"}, nil
	}}
	_, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, launch.Events{})
	if err == nil || err.Error() != "m is already running at http://127.0.0.1:8000; `modelhub stop m` first" || d.Called("remove") {
		t.Errorf("err = %v, calls %v", err, d.Calls())
	}
	// another container name (a test's) does not look for the model's own
	d.CreateFunc = func(context.Context, dockerrun.Spec) (string, error) { return "", errors.New("stop here") }
	d.Images(map[string]dockerrun.Image{})
	if _, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m", Container: "modelhub-m-test-1"}, launch.Events{}); err == nil || err.Error() != "stop here" {
		t.Errorf("own name: %v", err)
	}
	// a stopped leftover is removed
	d = &testutil.FakeDocker{
		InspectFunc: func(_ context.Context, name string) (dockerrun.Container, error) {
			return dockerrun.Container{ID: "old", Name: name}, nil
		},
		CreateFunc: func(context.Context, dockerrun.Spec) (string, error) { return "", errors.New("stop here") },
	}
	d.Images(map[string]dockerrun.Image{})
	launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, launch.Events{})
	if !d.Called("remove old") {
		t.Errorf("stopped leftover not removed: %v", d.Calls())
	}
}

func TestStart_placeholderImage(t *testing.T) {
	s, dir := modelDir(t, false)
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(`{"docker_id": "YOUR IMAGE", "external_contrib_files": []}`), 0o644)
	d := &testutil.FakeDocker{}
	if _, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, launch.Events{}); err == nil || !strings.Contains(err.Error(), "modelhub validate") || d.Called("pull") {
		t.Errorf("err = %v, calls %v", err, d.Calls())
	}
}

func TestFindRunning(t *testing.T) {
	list := []dockerrun.Container{
		{ID: "t", Name: "modelhub-tiny-test-1", Model: "Tiny", Running: true, HostIP: "0.0.0.0", Ports: []dockerrun.Port{{Container: 80, Host: 9001}}},
		{ID: "r", Name: "modelhub-tiny", Model: "tiny", Running: true, HostIP: "127.0.0.1", Ports: []dockerrun.Port{{Container: 8080, Host: 9999}, {Container: 80, Host: 8123}}, ContribSrc: "/m/tiny/contrib_src"},
	}
	d := &testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) { return list, nil }}
	h, err := launch.FindRunning(context.Background(), d, "TINY")
	if err != nil || h.ID != "r" || h.APIPort != 8123 || h.APIURL != "http://127.0.0.1:8123" || h.JupyterURL != "http://127.0.0.1:9999" || h.Dir != filepath.Dir("/m/tiny/contrib_src") {
		t.Errorf("FindRunning = %+v, %v", h, err)
	}
	if _, err := launch.FindRunning(context.Background(), d, "absent"); !errors.Is(err, launch.ErrNotRunning) || err.Error() != "no container of absent is running" {
		t.Errorf("absent: %v", err)
	}
}

// Another modelhub created the model's container between the leftover check
// and the create: Docker's name conflict becomes the friendly message.
func TestStart_nameConflict(t *testing.T) {
	s, _ := modelDir(t, false)
	for _, running := range []bool{true, false} {
		created := false
		d := &testutil.FakeDocker{
			InfoFunc: info(dockerrun.EngineInfo{}),
			InspectFunc: func(_ context.Context, name string) (dockerrun.Container, error) {
				if !created {
					return dockerrun.Container{}, dockerrun.ErrContainerNotFound
				}
				return dockerrun.Container{ID: "theirs", Name: name, Model: "m", Running: running, State: map[bool]string{true: "running", false: "created"}[running], APIURL: "http://127.0.0.1:8000"}, nil
			},
			CreateFunc: func(_ context.Context, sp dockerrun.Spec) (string, error) {
				created = true
				return "", fmt.Errorf("create container %s: %w", sp.Name, dockerrun.ErrNameInUse)
			},
		}
		d.Images(map[string]dockerrun.Image{"img:1": {}})
		_, err := launch.Start(context.Background(), deps(s, d), launch.Options{Model: "m"}, launch.Events{})
		want := "m is already running: another modelhub is starting it (container modelhub-m); `modelhub stop m` first"
		if running {
			want = "m is already running at http://127.0.0.1:8000; `modelhub stop m` first"
		}
		if err == nil || err.Error() != want {
			t.Errorf("running=%v: err = %v, want %q", running, err, want)
		}
		if d.Called("remove") || d.Called("start") {
			t.Errorf("running=%v: touched the other's container: %v", running, d.Calls())
		}
	}
}
