package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// runFactory is a Factory with a downloaded model "m" (image img:1) and fake docker.
func runFactory(t *testing.T, d *testutil.FakeDocker, gpu bool) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	f, out, errOut := testFactory(t, "[]", false, 0)
	dir := filepath.Join(f.Opts.Home, "models", "m")
	os.MkdirAll(filepath.Join(dir, "init"), 0o755)
	os.MkdirAll(filepath.Join(dir, "contrib_src"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".modelhub"), 0o755)
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(`{"docker_id": "img:1", "external_contrib_files": []}`), 0o644)
	os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), []byte(fmt.Sprintf(`{"complete": true, "entry": {"name": "m", "gpu": %v}}`, gpu)), 0o644)
	f.Docker = func(ctx context.Context) (dockerrun.API, error) { return d, nil }
	return f, out, errOut
}

func engineInfo(info dockerrun.EngineInfo) func(context.Context) (dockerrun.EngineInfo, error) {
	return func(context.Context) (dockerrun.EngineInfo, error) { return info, nil }
}

func runOpts(f *Factory) *RunOptions {
	return &RunOptions{IO: f.IO, Store: f.Store, Docker: f.Docker, Forced: f.Forced, Model: "m", APIPort: 8000, JupyterPort: 8888, Host: "127.0.0.1", Timeout: time.Minute}
}

func Test_NewCmdRun_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(o *RunOptions) bool
		wantErr string
	}{
		{args: "m", check: func(o *RunOptions) bool {
			return o.Model == "m" && o.APIPort == 8000 && o.JupyterPort == 8888 && o.Host == "127.0.0.1" &&
				o.Timeout == 5*time.Minute && !o.APIPortSet && o.mode() == "api" && o.UIPort == 8800 && !o.UIPortSet && !o.NoUI && o.servesUI()
		}},
		{args: "--ui-port 9100 m", check: func(o *RunOptions) bool { return o.UIPort == 9100 && o.UIPortSet && o.servesUI() }},
		{args: "--no-ui m", check: func(o *RunOptions) bool { return o.NoUI && !o.servesUI() }},
		{args: "-d m", check: func(o *RunOptions) bool { return !o.servesUI() }},
		{args: "-e m", check: func(o *RunOptions) bool { return !o.servesUI() }},
		{args: "--ui-port 0 m", wantErr: "--ui-port 0: a port is a number from 1 to 65535"},
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
	d := &testutil.FakeDocker{InfoFunc: engineInfo(dockerrun.EngineInfo{OS: "linux", Arch: "amd64"})}
	f, _, _ := runFactory(t, d, true)
	err := runRun(context.Background(), runOpts(f))
	if err == nil || !strings.Contains(err.Error(), "needs an NVIDIA GPU (the index marks m as a GPU model)") || !strings.Contains(err.Error(), "--cpu") {
		t.Fatalf("err = %v", err)
	}
	if d.Called("create") || d.Called("pull") {
		t.Errorf("something was created or pulled: %v", d.Calls())
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
		d := &testutil.FakeDocker{InfoFunc: engineInfo(dockerrun.EngineInfo{OS: "linux", Arch: "amd64", NVIDIA: true}),
			CreateFunc: func(context.Context, dockerrun.Spec) (string, error) { return "", errors.New("stop here") }}
		d.Images(map[string]dockerrun.Image{})
		f, _, _ := runFactory(t, d, tc.indexGPU)
		o := runOpts(f)
		o.GPU, o.CPU = tc.flagGPU, tc.cpu
		o.APIPortSet = false
		if err := runRun(context.Background(), o); err == nil || err.Error() != "stop here" {
			t.Fatalf("%+v: err = %v", tc, err)
		}
		if specs := d.Specs(); len(specs) != 1 || specs[0].GPU != tc.want {
			t.Errorf("%+v: specs %+v, want GPU %v", tc, specs, tc.want)
		}
	}
}

func Test_runRun_alreadyRunningAndLeftover(t *testing.T) {
	d := &testutil.FakeDocker{InspectFunc: func(_ context.Context, name string) (dockerrun.Container, error) {
		return dockerrun.Container{ID: "old", Name: name, Running: true, APIURL: "http://127.0.0.1:8000"}, nil
	}}
	f, _, _ := runFactory(t, d, false)
	err := runRun(context.Background(), runOpts(f))
	if err == nil || err.Error() != "m is already running at http://127.0.0.1:8000; `modelhub stop m` first" {
		t.Errorf("err = %v", err)
	}
	if d.Called("remove") || d.Called("create") {
		t.Errorf("calls = %v", d.Calls())
	}

	d = &testutil.FakeDocker{
		InspectFunc: func(_ context.Context, name string) (dockerrun.Container, error) {
			return dockerrun.Container{ID: "old", Name: name}, nil
		},
		CreateFunc: func(context.Context, dockerrun.Spec) (string, error) { return "", errors.New("stop here") },
	}
	d.Images(map[string]dockerrun.Image{})
	f, _, _ = runFactory(t, d, false)
	runRun(context.Background(), runOpts(f))
	if !d.Called("remove old") {
		t.Errorf("stopped leftover not removed: %v", d.Calls())
	}
}

func Test_runRun_crashBeforeReady(t *testing.T) {
	d := &testutil.FakeDocker{WaitFunc: func(context.Context, string) (int, error) { return 3, nil }}
	d.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	f, out, errOut := runFactory(t, d, false)
	o := runOpts(f)
	o.Detach = true
	err := runRun(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "exited with code 3 before it was ready") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errOut.String(), "--- last 30 log lines of modelhub-m ---\nengine log line\n") || !d.Called("logs id-modelhub-m tail=30") {
		t.Errorf("stderr = %q, calls %v", errOut.String(), d.Calls())
	}
	if !d.Called("remove id-modelhub-m") || out.Len() != 0 {
		t.Errorf("calls %v, stdout %q", d.Calls(), out.String())
	}
}

func Test_printReady(t *testing.T) {
	// the engine's own page (WebUI) is not what run shows: modelhub's is
	h := &launch.Handle{Model: "m", Container: "modelhub-m", Mode: "api", APIURL: "http://127.0.0.1:8000", WebUI: true, Engine: "unix:///var/run/docker.sock"}
	ui := "http://127.0.0.1:8800/"
	// terminal: a box
	f, out, _ := testFactory(t, "[]", true, 80)
	printReady(f.IO, h, ui, false, false)
	for _, want := range []string{"╭", "✓ m is ready", "REST API  http://127.0.0.1:8000/api/get_config", "Web UI    http://127.0.0.1:8800/", "Press Ctrl+C to stop", "╯"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("box lacks %q:\n%s", want, out.String())
		}
	}
	// piped: bare lines, the hint on stderr
	f, out, errOut := testFactory(t, "[]", false, 0)
	printReady(f.IO, h, ui, false, false)
	if out.String() != "REST API: http://127.0.0.1:8000/api/get_config\nWeb UI: http://127.0.0.1:8800/\n" || !strings.Contains(errOut.String(), "Press Ctrl+C to stop") {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	// no web UI served: no line, even when the engine has a page
	f, out, _ = testFactory(t, "[]", false, 0)
	printReady(f.IO, h, "", true, false)
	if out.String() != "REST API: http://127.0.0.1:8000/api/get_config\n" {
		t.Errorf("without a web UI: stdout %q", out.String())
	}
	// JSON
	f, out, _ = testFactory(t, "[]", false, 0)
	printReady(f.IO, h, "http://127.0.0.1:8800/m/m/", true, true)
	want := `{
  "name": "m",
  "container": "modelhub-m",
  "mode": "api",
  "api_url": "http://127.0.0.1:8000",
  "notebook_url": "",
  "web_ui_url": "http://127.0.0.1:8800/m/m/",
  "engine": "unix:///var/run/docker.sock",
  "uploaded_bytes": 0
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
