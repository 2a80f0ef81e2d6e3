package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func Test_NewCmdPull_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    PullOptions
		wantErr string
	}{
		{args: "demo", want: PullOptions{Model: "demo", Jobs: 4}},
		{args: "--update -j 8 --json Demo", want: PullOptions{Model: "Demo", Update: true, Jobs: 8, JSON: true}},
		{args: "-u ./here", want: PullOptions{Model: "./here", Update: true, Jobs: 4}},
		{args: "", wantErr: "needs one MODEL"},
		{args: "a b", wantErr: "takes one MODEL, got 2"},
		{args: "--jobs 0 demo", wantErr: "--jobs must be at least 1"},
		{args: "--commit " + strings.Repeat("aB", 20) + " demo", want: PullOptions{Model: "demo", Commit: strings.Repeat("aB", 20), Jobs: 4}},
		{args: "--commit abc123 demo", wantErr: "--commit needs a full 40-character commit hash"},
		{args: "--commit " + strings.Repeat("g", 40) + " demo", wantErr: "--commit needs a full 40-character commit hash"},
		{args: "-u --commit " + strings.Repeat("a", 40) + " demo", wantErr: "--commit and --update contradict"},
	} {
		got := flagCase(t, NewCmdPull, tc.args, tc.wantErr, false)
		if got == nil {
			continue
		}
		if got.Model != tc.want.Model || got.Update != tc.want.Update || got.Commit != tc.want.Commit || got.Jobs != tc.want.Jobs || got.JSON != tc.want.JSON {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func Test_NewCmdRm_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    RmOptions
		wantErr string
	}{
		{args: "a B", want: RmOptions{Models: []string{"a", "B"}}},
		{args: "--all --yes", want: RmOptions{All: true, Yes: true}},
		{args: "--all -y", want: RmOptions{All: true, Yes: true}},
		{args: "", wantErr: "needs at least one MODEL (or --all)"},
		{args: "--all a", wantErr: "not both"},
	} {
		got := flagCase(t, NewCmdRm, tc.args, tc.wantErr, true)
		if got == nil {
			continue
		}
		if strings.Join(got.Models, " ") != strings.Join(tc.want.Models, " ") || got.All != tc.want.All || got.Yes != tc.want.Yes {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

// pullFixture serves a model "Demo" with one 2 MB file and returns a factory
// whose index points at it.
func pullFixture(t *testing.T, tty bool) (*Factory, *bytes.Buffer, *bytes.Buffer, *testutil.FileServer) {
	t.Helper()
	gs := testutil.NewGitServer(t)
	fs := testutil.NewFileServer(t)
	c := testutil.NewPattern(2_000_000, 7)
	fs.Add("/w.bin", c)
	fs.SetFault("/w.bin", testutil.Fault{RateLimit: 8 << 20})
	repo := gs.Repo(t, "demo", map[string]string{
		"init/init.json": `{"docker_id": "modelhub/demo", "external_contrib_files": [{"src_url": "` + fs.URL + `/w.bin", "dest_file_path": "/contrib_src/model/w.bin", "sha256": "` + testutil.SHA256(c) + `"}]}`,
	})
	index := `[{"id": "1", "name": "Demo", "task_extended": "t", "github": "` + repo.URL + `", "github_branch": "master", "backend": ["onnx"]}]`
	f, out, errOut := testFactory(t, index, tty, 80)
	return f, out, errOut, fs
}

func Test_pullRun_tty(t *testing.T) {
	f, out, errOut, _ := pullFixture(t, true)
	if err := pullRun(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "demo", Jobs: 4}); err != nil {
		t.Fatal(err)
	}
	e := errOut.String()
	if !strings.Contains(e, "\r") || !strings.Contains(e, "downloading 1 file(s)") || !strings.Contains(e, "✓ w.bin (1.9 MiB) [1/1]") {
		t.Errorf("terminal output lacks the bar or the file note:\n%q", e)
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), filepath.Join("models", "Demo")) {
		t.Errorf("stdout %q, want the model folder", out)
	}
}

func Test_pullRun_notTTY(t *testing.T) {
	f, out, errOut, _ := pullFixture(t, false)
	if err := pullRun(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "DEMO", Jobs: 4}); err != nil {
		t.Fatal(err)
	}
	e := errOut.String()
	if strings.Contains(e, "\r") || strings.Contains(e, "\x1b[") {
		t.Errorf("carriage returns or escapes off a terminal:\n%q", e)
	}
	if n := strings.Count(e, "\n"); n > 12 {
		t.Errorf("%d lines of progress, want a few:\n%s", n, e)
	}
	if !strings.Contains(e, "Demo is ready: 1 file(s), 1.9 MiB in total") {
		t.Errorf("no summary with the total:\n%s", e)
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), filepath.Join("models", "Demo")) {
		t.Errorf("stdout %q, want the model folder", out)
	}

	// --json, from the manifest
	out.Reset()
	if err := pullRun(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "demo", Jobs: 4, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var got pullJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if got.Name != "Demo" || got.DockerID != "modelhub/demo" || len(got.Files) != 1 || got.Files[0].Size != 2_000_000 || got.Files[0].Path != "contrib_src/model/w.bin" || len(got.Files[0].SHA256) != 64 {
		t.Errorf("json %+v", got)
	}
}

func Test_pullRun_quiet(t *testing.T) {
	f, out, errOut, _ := pullFixture(t, true)
	f.IO.Quiet = true
	if err := pullRun(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "demo", Jobs: 1}); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 || out.Len() == 0 {
		t.Errorf("quiet: stderr %q stdout %q", errOut, out)
	}
}

// pullModel gives a ready folder and reuses it without the index.
func Test_pullModel(t *testing.T) {
	f, _, _, fs := pullFixture(t, false)
	m, _, err := pullModel(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Manifest == nil || !m.Manifest.Complete || m.Manifest.DockerID != "modelhub/demo" {
		t.Fatalf("model %+v", m)
	}
	f.Opts.Index = filepath.Join(t.TempDir(), "no-such-index.json")
	f2 := NewFactory(f.IO, make(chan struct{}), make(chan struct{}))
	*f2.Opts = *f.Opts
	m2, _, err := pullModel(context.Background(), &PullOptions{IO: f2.IO, Store: f2.Store, Model: "Demo"})
	if err != nil || m2.Dir != m.Dir {
		t.Fatalf("second pullModel: %+v %v", m2, err)
	}
	if fs.Count("/w.bin") != 1 {
		t.Errorf("%d downloads, want 1", fs.Count("/w.bin"))
	}
}

func Test_rmRun_confirm(t *testing.T) {
	f, _, errOut, _ := pullFixture(t, true)
	if _, _, err := pullModel(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, Model: "demo"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.Opts.Home, "models", "Demo")
	// no terminal: one line (it used to print the question, then a second line)
	f.IO.InTTY = false
	err := rmRun(context.Background(), &RmOptions{IO: f.IO, Store: f.Store, All: true})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "refusing to remove 1 downloaded model(s) (Demo) from ") ||
		!strings.HasSuffix(err.Error(), "unasked: there is no terminal to ask on; pass --yes to confirm") {
		t.Errorf("no terminal: %q", err)
	}
	f.IO.InTTY = true
	f.IO.In = strings.NewReader("n\n")
	err = rmRun(context.Background(), &RmOptions{IO: f.IO, Store: f.Store, All: true})
	if err == nil || !strings.Contains(errOut.String(), "Remove 1 downloaded model(s) (Demo)") {
		t.Errorf("answer n: %v, stderr %q", err, errOut)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("removed after answering n: %v", err)
	}
	// a running model is refused (the Docker check is stubbed)
	running := func(_ context.Context, name, _ string) (bool, error) { return name == "Demo", nil }
	err = rmRun(context.Background(), &RmOptions{IO: f.IO, Store: f.Store, InUse: running, Models: []string{"demo"}})
	if err == nil || !strings.Contains(err.Error(), "Demo is running or starting; stop it first") {
		t.Errorf("running model: %v", err)
	}
	err = pullRun(context.Background(), &PullOptions{IO: f.IO, Store: f.Store, InUse: running, Model: "demo", Update: true, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), "Demo is running; stop it before updating it") {
		t.Errorf("update of a running model: %v", err)
	}
	f.IO.In = strings.NewReader("y\n")
	if err := rmRun(context.Background(), &RmOptions{IO: f.IO, Store: f.Store, All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("not removed after answering y: %v", err)
	}
}

// Ctrl-C during the download: exit code 130, the .part kept, no model folder.
func Test_pull_interruptExits130(t *testing.T) {
	f, _, errOut, fs := pullFixture(t, false)
	fs.SetFault("/w.bin", testutil.Fault{RateLimit: 500_000})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	part := filepath.Join(f.Opts.Home, "models", ".staging-demo", "contrib_src", "model", "w.bin.part")
	go func() {
		for {
			if fi, err := os.Stat(part); err == nil && fi.Size() > 0 {
				cancel(ErrInterrupted)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	// NewCmdRoot resets the global options to the flags' defaults: pass the
	// test's folders as flags.
	home, index := f.Opts.Home, f.Opts.Index
	root := NewCmdRoot(f)
	root.SetArgs([]string{"pull", "--home", home, "--index", index, "demo"})
	if code := execute(ctx, root, f.IO); code != ExitInterrupted {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, ExitInterrupted, errOut)
	}
	if fi, err := os.Stat(part); err != nil || fi.Size() == 0 || fi.Size() >= 2_000_000 {
		t.Errorf(".part after Ctrl-C: %v %v, want partial bytes kept", fi, err)
	}
	if _, err := os.Stat(filepath.Join(f.Opts.Home, "models", "Demo")); err == nil {
		t.Error("model folder exists after an interrupted pull")
	}
}
