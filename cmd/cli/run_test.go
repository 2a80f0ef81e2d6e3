package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// fakeDocker is a dockerAPI whose behaviour tests set through func fields;
// unset ones succeed. It records the calls.
type fakeDocker struct {
	mu    sync.Mutex
	calls []string

	info    dockerrun.EngineInfo
	images  map[string]dockerrun.Image
	inspect func(name string) (dockerrun.Container, error)
	create  func(s dockerrun.Spec) (string, error)
	pull    func(ref string, opts dockerrun.PullOptions) error
	wait    func() (int, error)
	specs   []dockerrun.Spec
}

func (f *fakeDocker) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeDocker) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func (f *fakeDocker) Info(ctx context.Context) (dockerrun.EngineInfo, error) { return f.info, nil }
func (f *fakeDocker) ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error) {
	f.record("inspect-image %s", ref)
	if im, ok := f.images[ref]; ok {
		return im, nil
	}
	return dockerrun.Image{}, dockerrun.ErrImageNotFound
}
func (f *fakeDocker) ImagePull(ctx context.Context, ref string, opts dockerrun.PullOptions) error {
	f.record("pull %s %s", ref, opts.Platform)
	if f.pull != nil {
		return f.pull(ref, opts)
	}
	if f.images == nil {
		f.images = map[string]dockerrun.Image{}
	}
	f.images[ref] = dockerrun.Image{OS: "linux", Arch: "amd64"}
	return nil
}
func (f *fakeDocker) ImageRemove(ctx context.Context, ref string) error {
	f.record("remove-image %s", ref)
	delete(f.images, ref)
	return nil
}
func (f *fakeDocker) Create(ctx context.Context, s dockerrun.Spec) (string, error) {
	f.record("create %s", s.Name)
	f.mu.Lock()
	f.specs = append(f.specs, s)
	f.mu.Unlock()
	if f.create != nil {
		return f.create(s)
	}
	return "id-" + s.Name, nil
}
func (f *fakeDocker) Start(ctx context.Context, id string) error {
	f.record("start %s", id)
	return nil
}
func (f *fakeDocker) Wait(ctx context.Context, id string) (int, error) {
	if f.wait != nil {
		return f.wait()
	}
	<-ctx.Done()
	return -1, ctx.Err()
}
func (f *fakeDocker) Logs(ctx context.Context, id string, opts dockerrun.LogsOptions, stdout, stderr io.Writer) error {
	f.record("logs %s tail=%s", id, opts.Tail)
	io.WriteString(stderr, "engine log line\n")
	return nil
}
func (f *fakeDocker) Stop(ctx context.Context, id string, grace time.Duration) error {
	f.record("stop %s %s", id, grace)
	return nil
}
func (f *fakeDocker) Kill(ctx context.Context, id string) error { f.record("kill %s", id); return nil }
func (f *fakeDocker) Remove(ctx context.Context, id string) error {
	f.record("remove %s", id)
	return nil
}
func (f *fakeDocker) Inspect(ctx context.Context, name string) (dockerrun.Container, error) {
	if f.inspect != nil {
		return f.inspect(name)
	}
	return dockerrun.Container{}, dockerrun.ErrContainerNotFound
}
func (f *fakeDocker) List(ctx context.Context, all bool) ([]dockerrun.Container, error) {
	return nil, nil
}
func (f *fakeDocker) Attach(ctx context.Context, id string) (*dockerrun.Attachment, error) {
	return nil, errors.New("no attach in fakes")
}
func (f *fakeDocker) Resize(ctx context.Context, id string, rows, cols uint) error { return nil }

// runFactory is a Factory with a downloaded model "m" (image img:1) and fake docker.
func runFactory(t *testing.T, d *fakeDocker, gpu bool) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	f, out, errOut := testFactory(t, "[]", false, 0)
	dir := filepath.Join(f.Opts.Home, "models", "m")
	os.MkdirAll(filepath.Join(dir, "init"), 0o755)
	os.MkdirAll(filepath.Join(dir, "contrib_src"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".modelhub"), 0o755)
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(`{"docker_id": "img:1", "external_contrib_files": []}`), 0o644)
	os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), []byte(fmt.Sprintf(`{"complete": true, "entry": {"name": "m", "gpu": %v}}`, gpu)), 0o644)
	f.Docker = func(ctx context.Context) (dockerAPI, error) { return d, nil }
	return f, out, errOut
}

func runOpts(f *Factory) *RunOptions {
	return &RunOptions{IO: f.IO, Factory: f, Model: "m", APIPort: 8000, JupyterPort: 8888, Host: "127.0.0.1", Timeout: time.Minute}
}

func Test_NewCmdRun_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(o *RunOptions) bool
		wantErr string
	}{
		{args: "m", check: func(o *RunOptions) bool {
			return o.Model == "m" && o.APIPort == 8000 && o.JupyterPort == 8888 && o.Host == "127.0.0.1" &&
				o.Timeout == 5*time.Minute && !o.APIPortSet && o.mode() == "api"
		}},
		{args: "-u --update-image --platform linux/arm64 --mount-data d --mount-framework fw m", check: func(o *RunOptions) bool {
			return o.Update && o.UpdateImage && o.Platform == "linux/arm64" && o.MountData == "d" && o.MountFramework == "fw"
		}},
		{args: "--api-port 9000 --jupyter-port 9001 --host 0.0.0.0 -e m", check: func(o *RunOptions) bool {
			return o.APIPort == 9000 && o.APIPortSet && o.JupyterPort == 9001 && o.JupyterPortSet && o.Host == "0.0.0.0" && o.mode() == "expert"
		}},
		{args: "-g -d --json --timeout 10s m", check: func(o *RunOptions) bool {
			return o.GPU && o.Detach && o.JSON && o.Timeout == 10*time.Second
		}},
		{args: "-b --cpu m", check: func(o *RunOptions) bool { return o.Bash && o.CPU && o.mode() == "bash" }},
		{args: "", wantErr: "needs a MODEL name"},
		{args: "a b", wantErr: "takes a MODEL name"},
		{args: "-g --cpu m", wantErr: "none of the others can be"},
		{args: "-e -b m", wantErr: "none of the others can be"},
		{args: "-b -d m", wantErr: "none of the others can be"},
		{args: "--json m", wantErr: "--json needs --detach"},
		{args: "--api-port 70000 m", wantErr: "--api-port 70000"},
		{args: "-e --api-port 9000 --jupyter-port 9000 m", wantErr: "both 9000"},
		{args: "--host localhost m", wantErr: "want an IP address"},
		{args: "--timeout 0s m", wantErr: "--timeout must be positive"},
		{args: "--platform amd64 m", wantErr: "os/arch"},
	} {
		got := flagCase(t, NewCmdRun, tc.args, tc.wantErr, false)
		if got == nil {
			continue
		}
		if !tc.check(got) {
			t.Errorf("%q: options %+v", tc.args, *got)
		}
	}
}

func Test_runRun_gpuWithoutNVIDIA(t *testing.T) {
	d := &fakeDocker{info: dockerrun.EngineInfo{OS: "linux", Arch: "amd64"}}
	f, _, _ := runFactory(t, d, true)
	err := runRun(context.Background(), runOpts(f))
	if err == nil || !strings.Contains(err.Error(), "needs an NVIDIA GPU (the index marks m as a GPU model)") || !strings.Contains(err.Error(), "--cpu") {
		t.Fatalf("err = %v", err)
	}
	if d.called("create") || d.called("pull") {
		t.Errorf("something was created or pulled: %v", d.calls)
	}
}

// The GPU device request follows the index flag, -g and --cpu.
func Test_runRun_gpuRequest(t *testing.T) {
	for _, tc := range []struct {
		indexGPU, flagGPU, cpu, want bool
	}{
		{true, false, false, true},
		{false, true, false, true},
		{true, false, true, false},
		{false, false, false, false},
	} {
		d := &fakeDocker{info: dockerrun.EngineInfo{OS: "linux", Arch: "amd64", NVIDIA: true},
			create: func(s dockerrun.Spec) (string, error) { return "", errors.New("stop here") }}
		f, _, _ := runFactory(t, d, tc.indexGPU)
		o := runOpts(f)
		o.GPU, o.CPU = tc.flagGPU, tc.cpu
		o.APIPortSet = false
		if err := runRun(context.Background(), o); err == nil || err.Error() != "stop here" {
			t.Fatalf("%+v: err = %v", tc, err)
		}
		if len(d.specs) != 1 || d.specs[0].GPU != tc.want {
			t.Errorf("%+v: spec GPU = %v, want %v", tc, d.specs[0].GPU, tc.want)
		}
	}
}

func Test_runRun_alreadyRunningAndLeftover(t *testing.T) {
	d := &fakeDocker{inspect: func(name string) (dockerrun.Container, error) {
		return dockerrun.Container{ID: "old", Name: name, Running: true, APIURL: "http://127.0.0.1:8000"}, nil
	}}
	f, _, _ := runFactory(t, d, false)
	err := runRun(context.Background(), runOpts(f))
	if err == nil || err.Error() != "m is already running at http://127.0.0.1:8000; `modelhub stop m` first" {
		t.Errorf("err = %v", err)
	}
	if d.called("remove") || d.called("create") {
		t.Errorf("calls = %v", d.calls)
	}

	d = &fakeDocker{
		inspect: func(name string) (dockerrun.Container, error) { return dockerrun.Container{ID: "old", Name: name}, nil },
		create:  func(s dockerrun.Spec) (string, error) { return "", errors.New("stop here") },
	}
	f, _, _ = runFactory(t, d, false)
	runRun(context.Background(), runOpts(f))
	if !d.called("remove old") {
		t.Errorf("stopped leftover not removed: %v", d.calls)
	}
}

func Test_runRun_crashBeforeReady(t *testing.T) {
	d := &fakeDocker{images: map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}},
		wait: func() (int, error) { return 3, nil }}
	f, out, errOut := runFactory(t, d, false)
	o := runOpts(f)
	o.Detach = true
	o.APIPort = 1 // nothing answers there
	o.APIPortSet = false
	portSearchSpan, readyInterval = 65535, time.Millisecond
	defer func() { portSearchSpan, readyInterval = 100, 50*time.Millisecond }()
	err := runRun(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "exited with code 3 before it was ready") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errOut.String(), "--- last 30 log lines of modelhub-m ---\nengine log line\n") || !d.called("logs id-modelhub-m tail=30") {
		t.Errorf("stderr = %q, calls %v", errOut.String(), d.calls)
	}
	if !d.called("remove id-modelhub-m") || out.Len() != 0 {
		t.Errorf("calls %v, stdout %q", d.calls, out.String())
	}
}

func Test_pickPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	f, _, errOut := testFactory(t, "[]", false, 0)
	if _, err := pickPort(f.IO, "127.0.0.1", busy, true, "--api-port", nil); err == nil ||
		err.Error() != fmt.Sprintf("port %d on 127.0.0.1 is already in use (--api-port): stop what uses it or choose another port with --api-port", busy) {
		t.Errorf("explicit busy port: %v", err)
	}
	p, err := pickPort(f.IO, "127.0.0.1", busy, false, "--api-port", map[int]bool{busy + 1: true})
	if err != nil || p <= busy+1 {
		t.Fatalf("default busy port: %d, %v", p, err)
	}
	if want := fmt.Sprintf("port %d is busy; using %d instead", busy, p); !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
}

func Test_waitReady(t *testing.T) {
	var ready sync.WaitGroup
	ready.Add(1)
	n := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	readyInterval = time.Millisecond
	defer func() { readyInterval = 50 * time.Millisecond }()
	if err := waitReady(context.Background(), srv.Client(), srv.URL, nil); err != nil || n != 3 {
		t.Errorf("waitReady = %v after %d requests", err, n)
	}
	exited := make(chan struct{})
	close(exited)
	if err := waitReady(context.Background(), srv.Client(), "http://127.0.0.1:1", exited); !errors.As(err, new(errExitedEarly)) {
		t.Errorf("exited container: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := waitReady(ctx, srv.Client(), "http://127.0.0.1:1", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

func Test_printReady(t *testing.T) {
	st := &started{model: &runModel{Name: "m"}, name: "modelhub-m", mode: "api", apiBase: "http://127.0.0.1:8000", webUI: true}
	// terminal: a box
	f, out, _ := testFactory(t, "[]", true, 80)
	printReady(&RunOptions{IO: f.IO, Factory: f}, st)
	for _, want := range []string{"╭", "✓ m is ready", "REST API  http://127.0.0.1:8000/api/get_config", "Web UI    http://127.0.0.1:8000/", "Press Ctrl+C to stop", "╯"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("box lacks %q:\n%s", want, out.String())
		}
	}
	// piped: bare lines, the hint on stderr
	f, out, errOut := testFactory(t, "[]", false, 0)
	printReady(&RunOptions{IO: f.IO, Factory: f}, st)
	if out.String() != "REST API: http://127.0.0.1:8000/api/get_config\nWeb UI: http://127.0.0.1:8000/\n" || !strings.Contains(errOut.String(), "Press Ctrl+C to stop") {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	// JSON
	f, out, _ = testFactory(t, "[]", false, 0)
	printReady(&RunOptions{IO: f.IO, Factory: f, Detach: true, JSON: true}, st)
	want := `{
  "name": "m",
  "container": "modelhub-m",
  "mode": "api",
  "api_url": "http://127.0.0.1:8000",
  "notebook_url": ""
}
`
	if out.String() != want {
		t.Errorf("json = %s", out.String())
	}
}

func Test_humanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 3 * time.Minute: "3m", 3*time.Hour + 12*time.Minute: "3h12m", 50 * time.Hour: "2d2h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
