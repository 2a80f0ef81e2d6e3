package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The Docker scripts share one engine client and one demo image per test
// process. A script needing Docker starts with `[!docker] skip` and
// `docker-setup`, which gives it a unique model name ($MODEL), an image tag
// ($IMAGE) and free ports ($API_PORT, $JUPYTER_PORT), and removes the
// model's containers and the tag when the script ends.

var testDocker struct {
	once sync.Once
	c    *dockerrun.Client
	err  error
}

func sharedDocker() (*dockerrun.Client, error) {
	testDocker.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		testDocker.c, testDocker.err = dockerrun.Connect(ctx)
		if testDocker.err != nil {
			fmt.Fprintf(os.Stderr, "SKIP (no Docker daemon answers, the Docker scripts did not run): %v\n", testDocker.err)
		}
	})
	return testDocker.c, testDocker.err
}

// dockerCleanup runs the tests, then removes the demo image they built.
type dockerCleanup struct{ m *testing.M }

func (d dockerCleanup) Run() int {
	code := d.m.Run()
	testutil.RemoveDemoImages()
	testutil.RemoveModelhubImage()
	if isolatedDir != "" {
		os.RemoveAll(isolatedDir)
	}
	return code
}

func init() {
	scriptConds["docker"] = func() (bool, error) {
		_, err := sharedDocker()
		if errors.Is(err, dockerrun.ErrUnreachable) {
			return false, nil
		}
		return err == nil, err
	}
	scriptConds["nvidia"] = func() (bool, error) {
		c, err := sharedDocker()
		if err != nil {
			return false, nil
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NVIDIA, err
	}
	scriptCmds["docker-setup"] = cmdDockerSetup
	scriptCmds["demo-model"] = cmdDemoModel
	scriptCmds["serve-demo-model"] = cmdServeDemoModel
	scriptCmds["stop-demo-index"] = cmdStopDemoIndex
	scriptCmds["stop-demo-files"] = cmdStopDemoFiles
	scriptCmds["stop-registry"] = cmdStopRegistry
	scriptCmds["http-get"] = cmdHTTPGet
	scriptCmds["container"] = cmdContainer
	scriptCmds["hold-port"] = cmdHoldPort
	scriptCmds["registry-image"] = cmdRegistryImage
}

func mustDocker(ts *testscript.TestScript) *dockerrun.Client {
	c, err := sharedDocker()
	if err != nil {
		ts.Fatalf("docker: %v", err)
	}
	return c
}

func freePort(ts *testscript.TestScript) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// removeModelContainers removes every container labelled with model.
func removeModelContainers(c *dockerrun.Client, model string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, _ := c.List(ctx, true)
	for _, ct := range cs {
		if ct.Model == model {
			_ = c.Remove(ctx, ct.ID)
		}
	}
}

// docker-setup: see above.
func cmdDockerSetup(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base, err := testutil.DemoBaseImage(ctx, c)
	ts.Check(err)
	model := testutil.UniqueName("demo")
	image := testutil.UniqueName("modelhub-test-engine") + ":1"
	ts.Check(c.ImageTag(ctx, base, image))
	ts.Defer(func() {
		removeModelContainers(c, model)
		testutil.RemoveImage(c, image)
	})
	ts.Setenv("MODEL", model)
	ts.Setenv("IMAGE", image)
	api := freePort(ts)
	jup := freePort(ts)
	for jup == api {
		jup = freePort(ts)
	}
	ts.Setenv("API_PORT", strconv.Itoa(api))
	ts.Setenv("JUPYTER_PORT", strconv.Itoa(jup))
}

// demo-model [-gpu] [-image REF] [-behaviour JSON] [-dir DIR]: make $MODEL a
// downloaded copy of the demo model (demo/model) running in $IMAGE (or REF),
// under $MODELHUB_HOME or the default home; with -dir, a local model folder
// DIR instead.
func cmdDemoModel(ts *testscript.TestScript, neg bool, args []string) {
	model, image := ts.Getenv("MODEL"), ts.Getenv("IMAGE")
	gpu, behaviour, dir := false, "", ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-dir":
			i++
			dir = ts.MkAbs(args[i])
		case "-gpu":
			gpu = true
		case "-image":
			i++
			image = args[i]
		case "-behaviour":
			i++
			behaviour = args[i]
		default:
			ts.Fatalf("usage: demo-model [-gpu] [-image REF] [-behaviour JSON] [-dir DIR]")
		}
	}
	src, err := filepath.Abs("../../demo/model")
	ts.Check(err)
	home := ts.Getenv("MODELHUB_HOME")
	if home == "" {
		home = filepath.Join(ts.Getenv("XDG_DATA_HOME"), "modelhub")
	}
	local := dir != ""
	if !local {
		dir = filepath.Join(home, "models", model)
	}
	ts.Check(os.RemoveAll(dir))
	ts.Check(os.CopyFS(dir, os.DirFS(src)))
	initJSON, err := json.Marshal(map[string]any{"docker_id": image, "external_contrib_files": []any{}})
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "init", "init.json"), initJSON, 0o644))
	if behaviour != "" {
		ts.Check(os.WriteFile(filepath.Join(dir, "contrib_src", "demo_engine.json"), []byte(behaviour), 0o644))
	}
	if local {
		return // a model folder used in place has no manifest
	}
	man, _ := json.Marshal(map[string]any{"complete": true, "entry": map[string]any{"name": model, "gpu": gpu}})
	ts.Check(os.MkdirAll(filepath.Join(dir, ".modelhub"), 0o755))
	ts.Check(os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), man, 0o644))
}

// http-get URL STATUS [REGEXP]: GET URL, require STATUS and, if given, a body
// matching REGEXP; the body goes to stdout.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: http-get URL STATUS [REGEXP]")
	}
	resp, err := http.Get(args[0])
	ts.Check(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strconv.Itoa(resp.StatusCode) != args[1] {
		ts.Fatalf("GET %s: status %d, want %s: %s", args[0], resp.StatusCode, args[1], body)
	}
	if len(args) > 2 && !regexp.MustCompile(args[2]).Match(body) {
		ts.Fatalf("GET %s: body does not match %q: %s", args[0], args[2], body)
	}
	fmt.Fprintf(ts.Stdout(), "%s", body)
}

// container: print the state of $MODEL's container ("none" when there is
// none) and its port bindings, one per line.
func cmdContainer(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.List(ctx, true)
	ts.Check(err)
	n := 0
	for _, ct := range cs {
		if ct.Model != ts.Getenv("MODEL") {
			continue
		}
		n++
		fmt.Fprintf(ts.Stdout(), "%s %s mode=%s\n", ct.Name, ct.State, ct.Mode)
		var ports []string
		for _, p := range ct.Ports {
			ports = append(ports, fmt.Sprintf("port %d -> %s:%d", p.Container, ct.HostIP, p.Host))
		}
		sort.Strings(ports)
		fmt.Fprintln(ts.Stdout(), strings.Join(ports, "\n"))
		switch {
		case ct.ContribVolume != "":
			fmt.Fprintf(ts.Stdout(), "contrib_src volume %s\n", ct.ContribVolume)
		case ct.ContribSrc != "":
			fmt.Fprintf(ts.Stdout(), "contrib_src bind %s\n", ct.ContribSrc)
		}
	}
	if n == 0 {
		fmt.Fprintln(ts.Stdout(), "none")
	}
}

// hold-port PORT: listen on 127.0.0.1:PORT until the script ends.
func cmdHoldPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: hold-port PORT")
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+args[0])
	ts.Check(err)
	ts.Defer(func() { l.Close() })
}

// registry-image: serve an in-process registry holding a unique demo image
// that is not present locally; $REMOTE_IMAGE names it. `stop-registry` stops
// the registry.
func cmdRegistryImage(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	host, stop := testutil.StartRegistry()
	stop = sync.OnceFunc(stop)
	ts.Defer(stop)
	registries.Store(ts, stop)
	ts.Defer(func() { registries.Delete(ts) })
	local, err := testutil.BuildUniqueDemoImage(ctx, c)
	ts.Check(err)
	remote, err := testutil.MoveToRegistry(ctx, c, local, host)
	if err != nil {
		testutil.RemoveImage(c, local)
		ts.Fatalf("%v", err)
	}
	ts.Defer(func() {
		removeModelContainers(c, ts.Getenv("MODEL"))
		testutil.RemoveImage(c, remote)
	})
	ts.Setenv("REMOTE_IMAGE", remote)
}

var registries sync.Map // *testscript.TestScript -> func()

// stop-registry: stop the registry of registry-image.
func cmdStopRegistry(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := registries.Load(ts)
	if !ok {
		ts.Fatalf("stop-registry: no registry-image in this script")
	}
	v.(func())()
}

// serve-demo-model [-gpu]: serve, on 127.0.0.1, an index whose only entry is
// $MODEL, the demo model's git repository (docker_id $IMAGE) and its external
// file; sets MODELHUB_INDEX, and $WEIGHTS_SIZE to the file's size. The
// index's server can be stopped with `stop-demo-index`, the file's with
// `stop-demo-files`.
func cmdServeDemoModel(ts *testscript.TestScript, neg bool, args []string) {
	gpu := len(args) == 1 && args[0] == "-gpu"
	model := ts.Getenv("MODEL")
	demo, err := filepath.Abs("../../demo")
	ts.Check(err)
	weights, err := os.ReadFile(filepath.Join(demo, "files", "weights.bin"))
	ts.Check(err)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/weights.bin" {
			http.NotFound(w, r)
			return
		}
		w.Write(weights)
	}))
	ts.Defer(files.Close)
	demoFiles.Store(ts, files)
	ts.Defer(func() { demoFiles.Delete(ts) })
	s := servers(ts)
	if s.git == nil {
		ts.Fatalf("git http-backend not available: guard the script with [!git] skip")
	}
	initJSON, _ := json.MarshalIndent(map[string]any{"docker_id": ts.Getenv("IMAGE"), "external_contrib_files": []any{
		map[string]string{"src_url": files.URL + "/files/weights.bin", "dest_file_path": "/contrib_src/model/weights.bin"},
	}}, "", "  ")
	repo := s.git.NewRepo(tsAdapter(ts), model, "master")
	repo.CopyDir(filepath.Join(demo, "model"))
	repo.WriteFiles(map[string]string{"init/init.json": string(initJSON)})
	repo.Commit("one")
	repo.Commit("two") // a history longer than the shallow clone
	entry := map[string]any{"id": "demo-1", "name": model, "task_extended": "Bright or dark (demo)",
		"github": repo.URL, "github_branch": "master", "backend": []string{"demo"}}
	if gpu {
		entry["gpu"] = true
	}
	index, _ := json.Marshal([]any{entry})
	idx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(index) }))
	ts.Defer(idx.Close)
	demoIndexes.Store(ts, idx)
	ts.Defer(func() { demoIndexes.Delete(ts) })
	ts.Setenv("MODELHUB_INDEX", idx.URL+"/models.json")
	ts.Setenv("WEIGHTS_SIZE", strconv.Itoa(len(weights)))
}

var demoIndexes, demoFiles sync.Map // *testscript.TestScript -> *httptest.Server

// stop-demo-files: close the weight-file server of serve-demo-model.
func cmdStopDemoFiles(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := demoFiles.Load(ts)
	if !ok {
		ts.Fatalf("stop-demo-files: no serve-demo-model in this script")
	}
	v.(*httptest.Server).Close()
}

// stop-demo-index: close the index server of serve-demo-model (and the git
// server stays, so a run that needed the network would still fail on the index).
func cmdStopDemoIndex(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := demoIndexes.Load(ts)
	if !ok {
		ts.Fatalf("stop-demo-index: no serve-demo-model in this script")
	}
	v.(*httptest.Server).Close()
}
