package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/modeltest"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// parseArgs runs the command built by newCmd on args and returns the options its runF
// received, or the error; a non-nil error must be a usage error containing wantErr.
func parseArgs[O any](t *testing.T, newCmd func(*Factory, func(context.Context, *O) error) *cobra.Command, args, wantErr string) *O {
	t.Helper()
	return flagCase(t, newCmd, args, wantErr, true)
}

func TestNewCmdValidate_flags(t *testing.T) {
	tests := []struct {
		args    string
		want    ValidateOptions
		wantErr string
	}{
		{args: "m", want: ValidateOptions{Model: "m"}},
		{args: "./m --json --schema s.json", want: ValidateOptions{Model: "./m", JSON: true, Schema: "s.json"}},
		{args: "", wantErr: "needs a MODEL"},
		{args: "a b", wantErr: "got 2 arguments"},
	}
	for _, tt := range tests {
		got := parseArgs(t, NewCmdValidate, tt.args, tt.wantErr)
		if got != nil && (got.Model != tt.want.Model || got.JSON != tt.want.JSON || got.Schema != tt.want.Schema) {
			t.Errorf("%q: opts = %+v, want %+v", tt.args, *got, tt.want)
		}
	}
}

func TestNewCmdTest_flags(t *testing.T) {
	tests := []struct {
		args    string
		want    TestOptions
		wantErr string
	}{
		{args: "m", want: TestOptions{Model: "m", Timeout: 2 * time.Minute}},
		{args: "-m -p 8080 --samples 3 --timeout 5s --json m", want: TestOptions{Model: "m", Manual: true, Port: 8080, Samples: 3, Timeout: 5 * time.Second, JSON: true}},
		{args: "--manual --port 1 m", want: TestOptions{Model: "m", Manual: true, Port: 1, Timeout: 2 * time.Minute}},
		{args: "-p 8080 m", wantErr: "--port needs -m/--manual"},
		{args: "-m -p 65536 m", wantErr: "not a TCP port"},
		{args: "--samples -1 m", wantErr: "--samples must be 0"},
		{args: "--timeout 0s m", wantErr: "--timeout must be positive"},
		{args: "", wantErr: "needs a MODEL"},
	}
	for _, tt := range tests {
		got, w := parseArgs(t, NewCmdTest, tt.args, tt.wantErr), tt.want
		if got != nil && (got.Model != w.Model || got.Manual != w.Manual || got.Port != w.Port || got.Samples != w.Samples || got.Timeout != w.Timeout || got.JSON != w.JSON) {
			t.Errorf("%q: opts = %+v, want %+v", tt.args, *got, w)
		}
	}
}

func TestNewCmdNew_flags(t *testing.T) {
	f, _, _ := testFactory(t, "[]", false, 0)
	f.Opts.Offline = true
	var got *NewOptions
	cmd := NewCmdNew(f, func(_ context.Context, o *NewOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"my-model", "--template", "http://127.0.0.1:1/t.git", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Name != "my-model" || got.Template != "http://127.0.0.1:1/t.git" || !got.JSON || !got.Offline {
		t.Errorf("opts = %+v", *got)
	}
	cmd = NewCmdNew(f, func(context.Context, *NewOptions) error { t.Error("ran with a bad name"); return nil })
	cmd.SetArgs([]string{"a/b"})
	cmd.SetErr(&bytes.Buffer{})
	var ue *UsageError
	if err := cmd.Execute(); !errors.As(err, &ue) {
		t.Errorf("bad name: %v", err)
	}
}

// fakeTestEngine stands in for Docker: Start serves a FakeEngine and records the stop.
type fakeTestEngine struct {
	engine   *testutil.FakeEngine
	running  int
	started  []string
	stopped  int
	startErr error
}

func (e *fakeTestEngine) Start(ctx context.Context, dir, name string, timeout time.Duration) (string, func(context.Context) error, error) {
	if e.startErr != nil {
		return "", nil, e.startErr
	}
	e.started = append(e.started, name)
	url := e.engine.Start()
	return url, func(ctx context.Context) error {
		e.stopped++
		e.engine.Close()
		return nil
	}, nil
}

func (e *fakeTestEngine) Running(context.Context, string) (int, error) { return e.running, nil }
func (e *fakeTestEngine) Port(context.Context, string) (int, error) {
	return 0, errors.New("not running")
}

const tinyConfig = `{"id": "7c1b1e5e-7d0e-4a57-9b0a-0d3f2b8f5a10",
 "meta": {"name": "tiny", "application_area": "a", "task": "t", "task_extended": "t", "data_type": "d"},
 "model": {"description": "d", "provenance": "", "architecture": "a", "learning_type": "l", "format": ".pt",
   "io": {"input": {"format": ["image/png"]}, "output": [{"name": "p", "type": "label_list"}]}},
 "modelhub": {}}`

func tinyModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	for p, c := range map[string]string{"init/init.json": `{"docker_id": "a/b:1", "external_contrib_files": []}`, "contrib_src/model/config.json": tinyConfig} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func Test_testRun_startsAndAlwaysStops(t *testing.T) {
	dir := tinyModel(t)
	tests := []struct {
		name    string
		running int
		predict func(string) (int, any)
		wantOut []string
		wantErr string
	}{
		{name: "good", running: 1, wantOut: []string{"PASS  exactly one container of the model runs", "PASSED"}},
		{name: "no container left", running: 0, wantOut: []string{"FAIL  exactly one container of the model runs: no container of tiny runs any more: the test container stopped during the test"}, wantErr: "1 check failed"},
		{name: "two containers", running: 2, wantOut: []string{"FAIL  exactly one container of the model runs: 2 containers of tiny run"}, wantErr: "1 check failed"},
		{name: "engine error", running: 1, predict: func(string) (int, any) { return 400, map[string]string{"error": "boom"} },
			wantOut: []string{"FAIL  predict_sample on the first sample: a.png: GET /api/predict_sample: engine error (status 400): boom"}, wantErr: "2 checks failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory(t, "[]", false, 0)
			fe := testutil.NewFakeEngine([]byte(tinyConfig))
			fe.Predict = tt.predict
			eng := &fakeTestEngine{engine: fe, running: tt.running}
			opts := &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Timeout: 5 * time.Second,
				Engine: func(context.Context) (TestEngine, error) { return eng, nil }}
			err := testRun(context.Background(), opts)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q\n%s", err, tt.wantErr, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if len(eng.started) != 1 || eng.stopped != 1 {
				t.Errorf("started %v, stopped %d times; want one start and one stop", eng.started, eng.stopped)
			}
			if !strings.Contains(errOut.String(), "starting tiny") {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

func Test_testRun_interruptedStillStops(t *testing.T) {
	dir := tinyModel(t)
	f, _, _ := testFactory(t, "[]", false, 0)
	ctx, cancel := context.WithCancel(context.Background())
	fe := testutil.NewFakeEngine([]byte(tinyConfig))
	fe.Predict = func(string) (int, any) { cancel(); return 400, map[string]string{"error": "interrupted"} }
	eng := &fakeTestEngine{engine: fe, running: 1}
	err := testRun(ctx, &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Timeout: 5 * time.Second,
		Engine: func(context.Context) (TestEngine, error) { return eng, nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if eng.stopped != 1 {
		t.Errorf("stopped %d times after Ctrl-C, want 1", eng.stopped)
	}
}

func Test_testRun_startFails(t *testing.T) {
	dir := tinyModel(t)
	f, _, _ := testFactory(t, "[]", false, 0)
	eng := &fakeTestEngine{startErr: errors.New("image modelhub/x not found")}
	err := testRun(context.Background(), &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Timeout: time.Second,
		Engine: func(context.Context) (TestEngine, error) { return eng, nil }})
	if !errors.Is(err, eng.startErr) {
		t.Fatalf("err = %v", err)
	}
	if eng.stopped != 0 {
		t.Error("stop called without a start")
	}
}

func Test_testRun_dockerUnreachable(t *testing.T) {
	dir := tinyModel(t)
	f, _, _ := testFactory(t, "[]", false, 0)
	unreachable := &dockerrun.UnreachableError{Host: "unix:///nonexistent.sock", Err: errors.New("no such file")}
	engine := func(context.Context) (TestEngine, error) { return nil, unreachable }
	err := testRun(context.Background(), &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Timeout: time.Second, Engine: engine})
	if !errors.Is(err, dockerrun.ErrUnreachable) {
		t.Fatalf("auto mode: err = %v, want the unreachable error", err)
	}
	// -m without -p needs Docker to find the port: a usage error saying to pass -p.
	err = testRun(context.Background(), &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Manual: true, Timeout: time.Second, Engine: engine})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "-p PORT") {
		t.Fatalf("manual mode: err = %v", err)
	}
}

func Test_printCheck_tty(t *testing.T) {
	c := modeltest.Check{Name: "docker_id", Status: modeltest.Fail, Detail: "is empty", File: "init/init.json"}
	for _, tt := range []struct {
		tty, color bool
		want       string
	}{
		{false, false, "FAIL  docker_id (init/init.json): is empty\n"},
		{true, false, "FAIL  docker_id (init/init.json): is empty\n"}, // NO_COLOR
		{false, true, "FAIL  docker_id (init/init.json): is empty\n"}, // piped stdout
		{true, true, "\x1b[31mFAIL\x1b[0m  docker_id (init/init.json): is empty\n"},
	} {
		var out bytes.Buffer
		checkPrinter(&IOStreams{Out: &out, OutTTY: tt.tty, Color: tt.color})(c)
		if out.String() != tt.want {
			t.Errorf("tty=%v color=%v: %q, want %q", tt.tty, tt.color, out.String(), tt.want)
		}
	}
	var out bytes.Buffer
	checkPrinter(&IOStreams{Out: &out})(modeltest.Check{Name: "run.py exists", Status: modeltest.Pass})
	if out.String() != "PASS  run.py exists\n" {
		t.Errorf("no file, no detail: %q", out.String())
	}
}

// test -m against a model started some other way (no modelhub container):
// a warning that says so, never "0 containers … stop the others".
func Test_testRun_manualNoContainer(t *testing.T) {
	dir := tinyModel(t)
	f, out, _ := testFactory(t, "[]", false, 0)
	fe := testutil.NewFakeEngine([]byte(tinyConfig))
	url := fe.Start()
	defer fe.Close()
	port, err := strconv.Atoi(url[strings.LastIndex(url, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	eng := &fakeTestEngine{engine: fe, running: 0}
	err = testRun(context.Background(), &TestOptions{IO: f.IO, Store: f.Store, Model: dir, Manual: true, Port: port, Timeout: 5 * time.Second,
		Engine: func(context.Context) (TestEngine, error) { return eng, nil }})
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	want := "WARN  exactly one container of the model runs: no container of tiny started by modelhub runs: the model answering at " + url + " was started some other way"
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "stop the others") {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
}
