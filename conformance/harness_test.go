package conformance

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// EnvImage names the real engine image; the suite skips without it.
const EnvImage = "MODELHUB_REALENGINE_IMAGE"

// commandTimeout bounds every modelhub command a test runs.
const commandTimeout = 5 * time.Minute

var (
	binPath string // the modelhub binary, built once by TestMain

	modelImage struct {
		once sync.Once
		ref  string
		err  error
	}
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(EnvImage) == "" {
			return m.Run() // every test skips, saying why
		}
		dir, err := os.MkdirTemp("", "modelhub-conformance-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binPath = filepath.Join(dir, "modelhub")
		build := exec.Command("go", "build", "-o", binPath, "../cmd/modelhub")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build modelhub: %v\n%s", err, out)
			return 1
		}
		defer removeModelImage()
		defer testutil.RemoveModelhubImage()
		return m.Run()
	}()
	os.Exit(code)
}

// engineImage returns the real engine image, or skips the test.
func engineImage(t testing.TB) string {
	t.Helper()
	ref := os.Getenv(EnvImage)
	if ref == "" {
		t.Skipf("%s is not set: run `make conformance` (it builds the real engine image with scripts/realengine-image.sh)", EnvImage)
	}
	return ref
}

// sharedModelImage builds, once per process, the brightness model's image:
// FROM the real engine image, with nothing added but a label.
func sharedModelImage(t testing.TB, c *dockerrun.Client) string {
	t.Helper()
	engine := engineImage(t)
	modelImage.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := c.ImageInspect(ctx, engine); err != nil {
			modelImage.err = fmt.Errorf("%s=%s: %w (build it with scripts/realengine-image.sh)", EnvImage, engine, err)
			return
		}
		ref := testutil.UniqueName("modelhub-conformance-brightness") + ":1"
		dockerfile := fmt.Sprintf("FROM %s\nLABEL ai.modelhub.conformance=brightness\n", engine)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))})
		_, _ = tw.Write([]byte(dockerfile))
		_ = tw.Close()
		var log bytes.Buffer
		if err := c.ImageBuild(ctx, ref, &buf, &log); err != nil {
			modelImage.err = fmt.Errorf("build the model image: %v\n%s", err, log.String())
			return
		}
		modelImage.ref = ref
	})
	if modelImage.err != nil {
		t.Fatal(modelImage.err)
	}
	return modelImage.ref
}

func removeModelImage() {
	if modelImage.ref == "" {
		return
	}
	c, err := dockerrun.New()
	if err != nil {
		return
	}
	defer c.Close()
	testutil.RemoveImage(c, modelImage.ref)
}

// modelWeights is the external file: scale and bias of the logistic regression
// on the mean brightness (0..1), little-endian float32.
func modelWeights() []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b[0:], math.Float32bits(12))
	binary.LittleEndian.PutUint32(b[4:], math.Float32bits(-6))
	return b
}

// Env is one conformance setup; every test gets its own.
type Env struct {
	t      *testing.T
	Docker *dockerrun.Client
	// Engine and Image are the real engine image and the model's image (FROM it).
	Engine, Image string
	// Model is the model's unique name in the served index.
	Model string
	// Home is MODELHUB_HOME, Index the served models.json URL.
	Home, Index string
	// Repo is the model's git repository, Files serves the weight file.
	Repo  *testutil.Repo
	Files *testutil.FileServer
	// Weights is the external file's content, WeightsURL its URL.
	Weights    []byte
	WeightsURL string
	// Entry is the model's index entry (edit it, then call ServeIndex again).
	Entry map[string]any
	// ExtraEnv are added to the commands' environment (e.g. credentials).
	ExtraEnv []string

	index   []byte
	indexMu sync.Mutex
}

// newEnv serves the brightness model under a unique name: its git
// repository, the weight file and an index holding only it, all on
// 127.0.0.1, with a fresh modelhub home. Containers of the model are
// removed when the test ends.
func newEnv(t *testing.T) *Env {
	t.Helper()
	engineImage(t)
	c := testutil.Docker(t)
	e := &Env{t: t, Docker: c, Engine: os.Getenv(EnvImage)}
	e.Image = sharedModelImage(t, c)
	e.Model = testutil.UniqueName("brightness")
	e.Home = t.TempDir()
	e.Files = testutil.NewFileServer(t)
	e.Weights = modelWeights()
	e.WeightsURL = e.Files.AddBytes("/releases/weights.bin", e.Weights)
	git := testutil.NewGitServer(t)
	e.Repo = git.NewRepo(t, e.Model, "master")
	e.Repo.CopyDir(filepath.Join("testdata", "model"))
	e.Repo.WriteFiles(e.modelFiles())
	e.Repo.Commit("brightness model")
	e.Entry = map[string]any{"id": "conformance-1", "name": e.Model, "task_extended": "Bright or dark (conformance)",
		"github": e.Repo.URL, "github_branch": "master", "backend": []string{"numpy"}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.indexMu.Lock()
		defer e.indexMu.Unlock()
		w.Write(e.index)
	})}
	ln := listenLoopback(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.Index = "http://" + ln.Addr().String() + "/models.json"
	e.ServeIndex()
	t.Cleanup(e.removeContainers)
	return e
}

// modelFiles are the files the harness writes over testdata/model: init.json
// naming the model image and the served weight file, and config.json's
// meta.name set to the unique model name.
func (e *Env) modelFiles() map[string]string {
	e.t.Helper()
	initJSON, _ := json.MarshalIndent(map[string]any{"docker_id": e.Image, "external_contrib_files": []any{
		map[string]string{"src_url": e.WeightsURL, "dest_file_path": "contrib_src/model/weights.bin"},
	}}, "", "  ")
	raw, err := os.ReadFile(filepath.Join("testdata", "model", "contrib_src", "model", "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		e.t.Fatal(err)
	}
	cfg["meta"].(map[string]any)["name"] = e.Model
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	return map[string]string{"init/init.json": string(initJSON), "contrib_src/model/config.json": string(cfgJSON)}
}

// ServeIndex (re)publishes the index from Entry and any extra entries.
func (e *Env) ServeIndex(extra ...map[string]any) {
	entries := append([]any{e.Entry}, anySlice(extra)...)
	data, _ := json.Marshal(entries)
	e.indexMu.Lock()
	e.index = data
	e.indexMu.Unlock()
}

func anySlice(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// ModelDir is where pull puts the model.
func (e *Env) ModelDir() string { return filepath.Join(e.Home, "models", e.Model) }

// environ is the environment of the modelhub commands: the served index, the
// test's home and cache, no terminal colours.
func (e *Env) environ() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MODELHUB_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "MODELHUB_HOME="+e.Home, "MODELHUB_CACHE="+filepath.Join(e.Home, "cache"),
		"MODELHUB_INDEX="+e.Index, "NO_COLOR=1")
	return append(env, e.ExtraEnv...)
}

// Cmd is the modelhub command with args, in the test's environment.
func (e *Env) Cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Result is a finished command.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("modelhub %s: exit %d after %s\n--- stdout\n%s--- stderr\n%s", strings.Join(r.Args, " "), r.Code, r.Took.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// run runs modelhub to its end (bounded by commandTimeout).
func (e *Env) run(args ...string) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := e.Cmd(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start), Code: cmd.ProcessState.ExitCode()}
	if err != nil && r.Code < 0 {
		e.t.Fatalf("%v\n%s", err, r)
	}
	return r
}

// must runs modelhub and fails the test unless it exits 0.
func (e *Env) must(args ...string) Result {
	e.t.Helper()
	r := e.run(args...)
	if r.Code != 0 {
		e.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// Proc is a modelhub command running in the background.
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *Buffer
	done           chan struct{}
	cancel         context.CancelFunc
}

// start starts modelhub in the background; it is killed when the test ends.
func (e *Env) start(args ...string) *Proc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	p := &Proc{Cmd: e.Cmd(ctx, args...), Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan struct{}), cancel: cancel}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() { p.cancel(); <-p.done })
	return p
}

// Wait waits for the end of the command (at most d) and returns its exit code.
func (p *Proc) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cancel()
		<-p.done
		t.Fatalf("modelhub did not end within %s\n--- stdout\n%s--- stderr\n%s", d, p.Stdout, p.Stderr)
	}
	return p.Cmd.ProcessState.ExitCode()
}

// pty runs modelhub on a pseudo-terminal (rows x cols); the output goes to
// the returned Buffer, input is written to the returned file.
func (e *Env) pty(rows, cols uint16, args ...string) (*os.File, *Buffer, *Proc) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	p := &Proc{Cmd: e.Cmd(ctx, args...), Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan struct{}), cancel: cancel}
	p.Cmd.Env = append(p.Cmd.Env, "TERM=xterm")
	ptmx, err := pty.StartWithSize(p.Cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	go func() { _, _ = io.Copy(p.Stdout, ptmx) }()
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() { p.cancel(); <-p.done; ptmx.Close() })
	return ptmx, p.Stdout, p
}

// Containers lists the model's containers (running or not).
func (e *Env) Containers() []dockerrun.Container {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := e.Docker.List(ctx, true)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []dockerrun.Container
	for _, c := range cs {
		if strings.EqualFold(c.Model, e.Model) {
			out = append(out, c)
		}
	}
	return out
}

func (e *Env) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, _ := e.Docker.List(ctx, true)
	for _, c := range cs {
		if strings.EqualFold(c.Model, e.Model) {
			_ = e.Docker.Remove(ctx, c.ID)
		}
	}
}

// Buffer is a goroutine-safe output buffer.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until re matches b (at most d).
func waitFor(t testing.TB, b *Buffer, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindString(b.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never matched %q within %s:\n%s", re, d, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getJSON GETs url and decodes its JSON body into v; it returns the body.
func getJSON(t testing.TB, url string, v any) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, body)
		}
	}
	return body
}

// localModel copies testdata/NAME into a model folder named after the
// environment's model plus suffix, with an init.json naming the real engine
// image, and removes the model's containers when the test ends.
func (e *Env) localModel(t *testing.T, name, suffix string) string {
	t.Helper()
	model := filepath.Join(t.TempDir(), e.Model+suffix)
	if err := os.CopyFS(model, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	initJSON, _ := json.Marshal(map[string]any{"docker_id": e.Image, "external_contrib_files": []any{}})
	writeFiles(t, model, map[string][]byte{"init/init.json": initJSON})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, _ := e.Docker.List(ctx, true)
		for _, c := range cs {
			if c.Model == filepath.Base(model) {
				_ = e.Docker.Remove(ctx, c.ID)
			}
		}
	})
	return model
}
