package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// testNet makes a failing download give up in milliseconds, not minutes. Its
// stall bound is long enough that a loaded machine does not take a slow git
// server for a silent one (no store test stalls a server).
var testNet = fetch.Timeouts{RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, Stall: 10 * time.Second}

// fixture is a model "Demo" served from a loopback git server whose
// init.json points at two files on a loopback file server.
type fixture struct {
	t     *testing.T
	s     *Store
	gs    *testutil.GitServer
	fs    *testutil.FileServer
	repo  *testutil.Repo
	data  map[string]testutil.Content
	index atomic.Int64 // calls of s.Index
}

func initJSON(dockerID string, files ...config.ExternalFile) string {
	b, _ := json.Marshal(config.Init{DockerID: dockerID, Files: files})
	return string(b)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{t: t, gs: testutil.NewGitServer(t), fs: testutil.NewFileServer(t), data: map[string]testutil.Content{}}
	fx.data["/a.bin"] = testutil.NewPattern(300_000, 1)
	fx.data["/b.bin"] = testutil.NewPattern(500_000, 2)
	for p, c := range fx.data {
		fx.fs.Add(p, c)
	}
	fx.repo = fx.gs.Repo(t, "demo", map[string]string{
		"init/init.json": initJSON("modelhub/demo",
			config.ExternalFile{SrcURL: fx.fs.URL + "/a.bin", Dest: "/contrib_src/model/a.bin", SHA256: testutil.SHA256(fx.data["/a.bin"])},
			config.ExternalFile{SrcURL: fx.fs.URL + "/b.bin", Dest: "contrib_src/model/b.bin"}),
		"contrib_src/run.py": "print('hi')\n",
	})
	ix := &registry.Index{Source: "test", Models: []registry.Entry{{ID: "1", Name: "Demo", GitHub: fx.repo.URL, GitHubBranch: "master"}}}
	fx.s = &Store{Home: t.TempDir(), Net: testNet, Index: func(context.Context) (*registry.Index, error) {
		fx.index.Add(1)
		return ix, nil
	}}
	return fx
}

func (fx *fixture) pull(ctx context.Context, ref string, o PullOptions) (*PullResult, error) {
	fx.t.Helper()
	m, err := fx.s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return fx.s.Pull(ctx, m, o)
}

func (fx *fixture) checkComplete(dir string) *Manifest {
	t := fx.t
	t.Helper()
	man, err := ReadManifest(dir)
	if err != nil || !man.Complete {
		t.Fatalf("manifest of %s: %+v %v, want complete", dir, man, err)
	}
	for _, f := range man.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		want := testutil.SHA256(fx.data[strings.TrimPrefix(f.SrcURL, fx.fs.URL)])
		if got := testutil.HashBytes(data); got != want || f.SHA256 != want || f.Size != int64(len(data)) {
			t.Errorf("%s: hash %s manifest %s size %d, want %s", f.Path, got, f.SHA256, f.Size, want)
		}
	}
	return man
}

func TestPull_freshThenNothing(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	var notes []string
	res, err := fx.pull(context.Background(), "DEMO", PullOptions{Note: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fx.s.Home, "models", "Demo")
	if res.Model.Dir != dir || !res.Cloned || res.Fetched != 2 || res.Downloaded != 800_000 {
		t.Errorf("result %+v, want Demo cloned with 2 files / 800000 bytes", res)
	}
	man := fx.checkComplete(dir)
	if man.Commit != fx.repo.Head() || man.DockerID != "modelhub/demo" || man.Entry.GitHub != fx.repo.URL {
		t.Errorf("manifest %+v", man)
	}
	if man.Files[0].Path != "contrib_src/model/a.bin" || man.Files[0].ETag == "" {
		t.Errorf("files %+v", man.Files)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contrib_src/run.py")); string(got) != "print('hi')\n" {
		t.Errorf("run.py = %q", got)
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 1 {
		t.Errorf("models dir holds %v, want only Demo", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, cloneMarker)); err == nil {
		t.Error("clone marker left in the final folder")
	}

	// Second pull: resolved from the manifest without the index, nothing fetched.
	requests, gitRequests, indexCalls := fx.fs.Count(""), fx.gs.Requests(), fx.index.Load()
	res, err = fx.pull(context.Background(), "demo", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate || res.Fetched != 0 || res.Downloaded != 0 || res.Model.Name != "Demo" {
		t.Errorf("second pull %+v, want up to date", res)
	}
	if fx.fs.Count("") != requests || fx.gs.Requests() != gitRequests || fx.index.Load() != indexCalls {
		t.Errorf("second pull used the network: files %d->%d git %d->%d index %d->%d",
			requests, fx.fs.Count(""), gitRequests, fx.gs.Requests(), indexCalls, fx.index.Load())
	}
}

func TestResolve(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.s.Index = func(context.Context) (*registry.Index, error) { return nil, errors.New("index must not be loaded") }

	// A path and a folder in the current directory with init/init.json are local.
	local := t.TempDir()
	os.MkdirAll(filepath.Join(local, "mine", "init"), 0o755)
	os.WriteFile(filepath.Join(local, "mine", "init", "init.json"), []byte(`{"docker_id":"me/mine"}`), 0o644)
	t.Chdir(local)
	for _, ref := range []string{"./mine", filepath.Join(local, "mine"), "mine"} {
		m, err := fx.s.Resolve(ctx, ref)
		if err != nil || !m.Local || m.Dir != filepath.Join(local, "mine") || !m.Complete() {
			t.Errorf("Resolve(%q) = %+v, %v; want the local folder", ref, m, err)
		}
	}
	if _, err := fx.s.Resolve(ctx, "./nothing-here"); err == nil {
		t.Error("a missing path resolved")
	}
	os.MkdirAll(filepath.Join(local, "empty"), 0o755)
	if _, err := fx.s.Resolve(ctx, "./empty"); !errors.Is(err, ErrNotModelFolder) {
		t.Errorf("folder without init.json: %v, want ErrNotModelFolder", err)
	}
	// Names need the index while not downloaded...
	if _, err := fx.s.Resolve(ctx, "demo"); err == nil || !strings.Contains(err.Error(), "index must not be loaded") {
		t.Errorf("Resolve(demo) before download: %v, want the index to be asked", err)
	}
	// ...and not once downloaded, whatever the case.
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")
	WriteManifest(dir, &Manifest{Entry: registry.Entry{Name: "Demo", GitHub: "x"}, Complete: true})
	m, err := fx.s.Resolve(ctx, "DEMO")
	if err != nil || m.Name != "Demo" || m.Dir != dir || m.Local || !m.Complete() {
		t.Errorf("Resolve(DEMO) = %+v, %v", m, err)
	}
	// An incomplete folder is not a model.
	WriteManifest(dir, &Manifest{Entry: registry.Entry{Name: "Demo"}, Complete: false})
	if _, err := fx.s.Resolve(ctx, "demo"); err == nil {
		t.Error("an incomplete folder resolved without the index")
	}
	// Not found in the index: the registry's error with suggestions.
	fx.s.Index = func(context.Context) (*registry.Index, error) {
		return &registry.Index{Models: []registry.Entry{{Name: "Demo"}}}, nil
	}
	if _, err := fx.s.Resolve(ctx, "demox"); !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "Demo") {
		t.Errorf("Resolve(demox) = %v, want not found suggesting Demo", err)
	}
}

// An interrupted pull leaves nothing in place; the next one reuses the clone
// and the finished file, and resumes the partial one with a Range request.
func TestPull_resumeInterrupted(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.fs.SetFault("/b.bin", testutil.Fault{RateLimit: 400_000})
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	o := PullOptions{Jobs: 1, Download: func(e fetch.Event) {
		if e.Kind == fetch.FileBytes && strings.HasSuffix(e.File.URL, "/b.bin") {
			once.Do(func() { time.AfterFunc(300*time.Millisecond, cancel) })
		}
	}}
	if _, err := fx.pull(ctx, "demo", o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted pull: %v, want context.Canceled", err)
	}
	final := filepath.Join(fx.s.ModelsDir(), "Demo")
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final folder exists after an interrupted pull: %v", err)
	}
	if IsComplete(fx.s.stagingDir("Demo")) {
		t.Fatal("staging folder marked complete")
	}
	fx.fs.SetFault("/b.bin", testutil.Fault{})
	aRequests := fx.fs.Count("/a.bin")

	res, err := fx.pull(context.Background(), "demo", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cloned || res.Reused != 1 || res.Fetched != 1 {
		t.Errorf("resumed pull %+v, want no clone, 1 reused, 1 fetched", res)
	}
	if fx.fs.Count("/a.bin") != aRequests {
		t.Error("the finished file was fetched again")
	}
	if rr := fx.fs.RangeRequests("/b.bin"); len(rr) != 1 || rr[0].Status != 206 {
		t.Errorf("range requests for b.bin: %+v, want one answered 206", rr)
	}
	fx.checkComplete(final)
	if _, err := os.Stat(fx.s.stagingDir("Demo")); !errors.Is(err, os.ErrNotExist) {
		t.Error("staging folder left behind")
	}
}

func TestPull_rejectedInitWritesNothing(t *testing.T) {
	t.Parallel()
	for name, init := range map[string]string{
		"traversal":   initJSON("x/y", config.ExternalFile{SrcURL: "http://127.0.0.1:9/evil", Dest: "../../../evil.txt"}),
		"placeholder": `{"docker_id": "YOUR DOCKER ID", "external_contrib_files": []}`,
		"not http":    initJSON("x/y", config.ExternalFile{SrcURL: "file:///etc/passwd", Dest: "a"}),
		"into .git":   initJSON("x/y", config.ExternalFile{SrcURL: "http://127.0.0.1:9/a", Dest: "/.git/hooks/post-checkout"}),
		"duplicate": initJSON("x/y", config.ExternalFile{SrcURL: "http://127.0.0.1:9/a", Dest: "/m/a"},
			config.ExternalFile{SrcURL: "http://127.0.0.1:9/b", Dest: "m/a"}),
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			fx.repo.WriteFiles(map[string]string{"init/init.json": init})
			fx.repo.Commit("bad")
			_, err := fx.pull(context.Background(), "demo", PullOptions{})
			if err == nil {
				t.Fatal("pull succeeded")
			}
			if name == "placeholder" && !errors.Is(err, config.ErrPlaceholder) {
				t.Errorf("err %v, want ErrPlaceholder", err)
			}
			if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 0 {
				t.Errorf("models dir holds %v after %v", ents, err)
			}
			if fx.fs.Count("") != 0 {
				t.Errorf("%d downloads for a rejected init.json", fx.fs.Count(""))
			}
		})
	}
}

func TestPull_404(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.repo.WriteFiles(map[string]string{"init/init.json": initJSON("x/y", config.ExternalFile{SrcURL: fx.fs.URL + "/gone.bin", Dest: "g"})})
	fx.repo.Commit("404")
	_, err := fx.pull(context.Background(), "demo", PullOptions{})
	var he *fetch.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 || !strings.Contains(err.Error(), fx.fs.URL+"/gone.bin") {
		t.Fatalf("err %v, want a 404 naming the URL", err)
	}
	if _, err := os.Stat(filepath.Join(fx.s.ModelsDir(), "Demo")); err == nil {
		t.Error("final folder created")
	}
}

func TestPull_update(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")

	// Nothing new upstream: up to date, no clone, no download.
	gitBefore, filesBefore := fx.gs.Requests(), fx.fs.Count("")
	res, err := fx.pull(ctx, "demo", PullOptions{Update: true})
	if err != nil || !res.UpToDate || res.Cloned {
		t.Fatalf("update with nothing new: %+v %v", res, err)
	}
	if fx.gs.Requests()-gitBefore > 2 || fx.fs.Count("") != filesBefore {
		t.Errorf("update with nothing new used %d git and %d file requests", fx.gs.Requests()-gitBefore, fx.fs.Count("")-filesBefore)
	}

	// b.bin moves to a new URL, a.bin stays: only b is fetched.
	fx.data["/b2.bin"] = testutil.NewPattern(200_000, 9)
	fx.fs.Add("/b2.bin", fx.data["/b2.bin"])
	fx.repo.WriteFiles(map[string]string{
		"init/init.json": initJSON("modelhub/demo:2",
			config.ExternalFile{SrcURL: fx.fs.URL + "/a.bin", Dest: "/contrib_src/model/a.bin", SHA256: testutil.SHA256(fx.data["/a.bin"])},
			config.ExternalFile{SrcURL: fx.fs.URL + "/b2.bin", Dest: "contrib_src/model/b.bin"}),
		"contrib_src/run.py": "print('v2')\n",
	})
	tip := fx.repo.Commit("v2")
	aBefore := fx.fs.Count("/a.bin")
	res, err = fx.pull(ctx, "demo", PullOptions{Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cloned || res.Reused != 1 || res.Fetched != 1 || fx.fs.Count("/a.bin") != aBefore || fx.fs.Count("/b2.bin") != 1 {
		t.Errorf("update %+v; a.bin requests %d->%d, b2 %d", res, aBefore, fx.fs.Count("/a.bin"), fx.fs.Count("/b2.bin"))
	}
	man := fx.checkComplete(dir)
	if man.Commit != tip || man.DockerID != "modelhub/demo:2" {
		t.Errorf("manifest after update: commit %s docker %s, want %s", man.Commit, man.DockerID, tip)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contrib_src/run.py")); string(got) != "print('v2')\n" {
		t.Errorf("run.py = %q", got)
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 1 {
		t.Errorf("models dir holds %v, want only Demo", ents)
	}
}

// An update interrupted in the middle leaves the previous version usable.
func TestPull_updateInterruptedKeepsOld(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.data["/c.bin"] = testutil.NewPattern(2_000_000, 3)
	fx.fs.Add("/c.bin", fx.data["/c.bin"])
	fx.fs.SetFault("/c.bin", testutil.Fault{RateLimit: 1 << 20})
	fx.repo.WriteFiles(map[string]string{"init/init.json": initJSON("modelhub/demo:3",
		config.ExternalFile{SrcURL: fx.fs.URL + "/c.bin", Dest: "c.bin"})})
	fx.repo.Commit("v3")
	cctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	_, err := fx.pull(cctx, "demo", PullOptions{Update: true, Download: func(e fetch.Event) {
		once.Do(func() { time.AfterFunc(200*time.Millisecond, cancel) })
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	man := fx.checkComplete(filepath.Join(fx.s.ModelsDir(), "Demo"))
	if man.DockerID != "modelhub/demo" {
		t.Errorf("docker id %s, want the previous version's", man.DockerID)
	}
}

func TestPull_sizeMismatchRefetches(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")
	os.Truncate(filepath.Join(dir, "contrib_src/model/b.bin"), 10)
	res, err := fx.pull(ctx, "demo", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 1 || res.Reused != 1 || fx.fs.Count("/a.bin") != 1 || fx.fs.Count("/b.bin") != 2 {
		t.Errorf("repair %+v; requests a=%d b=%d", res, fx.fs.Count("/a.bin"), fx.fs.Count("/b.bin"))
	}
	fx.checkComplete(dir)
}

// Concurrent pulls of one model end with one correct folder, each file fetched once.
func TestPull_concurrent(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.fs.SetFault("/b.bin", testutil.Fault{RateLimit: 2 << 20})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	var waited sync.Map
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fx.pull(context.Background(), "demo", PullOptions{Note: func(s string) {
				if strings.Contains(s, "waiting for another modelhub process") {
					waited.Store(i, true)
				}
			}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	n := 0
	waited.Range(func(any, any) bool { n++; return true })
	if n != 2 {
		t.Errorf("%d pulls waited for the lock, want 2", n)
	}
	fx.checkComplete(filepath.Join(fx.s.ModelsDir(), "Demo"))
	if fx.fs.Count("/a.bin") != 1 || fx.fs.Count("/b.bin") != 1 {
		t.Errorf("requests a=%d b=%d, want 1 each", fx.fs.Count("/a.bin"), fx.fs.Count("/b.bin"))
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 1 {
		t.Errorf("models dir holds %v", ents)
	}
}

func TestLockModel_timeout(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	l, err := LockModel(context.Background(), home, "Demo", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	start := time.Now()
	_, err = LockModel(context.Background(), home, "demo", 150*time.Millisecond, func(s string) { msg = s })
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "demo") {
		t.Errorf("second lock: %v, want ErrLocked naming the model", err)
	}
	if time.Since(start) < 150*time.Millisecond || !strings.Contains(msg, "waiting") {
		t.Errorf("gave up after %s with message %q", time.Since(start), msg)
	}
	l.Unlock()
	l2, err := LockModel(context.Background(), home, "demo", 150*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

func TestRemove(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(fx.s.stagingDir("Demo"), 0o755)
	if _, err := fx.s.Find("./Demo"); !errors.Is(err, ErrLocalFolder) {
		t.Errorf("Find(path) = %v, want ErrLocalFolder", err)
	}
	if _, err := fx.s.Find("other"); !errors.Is(err, ErrNotDownloaded) || !strings.Contains(err.Error(), "Demo") {
		t.Errorf("Find(other) = %v, want ErrNotDownloaded listing Demo", err)
	}
	dir, err := fx.s.Find("DEMO")
	if err != nil {
		t.Fatal(err)
	}
	// Interrupted before it starts: nothing is removed.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := fx.s.Remove(cancelled, dir, RemoveOptions{LockTimeout: time.Second}); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove with a cancelled context: %v, want context.Canceled", err)
	}
	fx.checkComplete(dir)
	if err := fx.s.Remove(ctx, dir, RemoveOptions{LockTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
	if err := fx.s.Remove(ctx, t.TempDir(), RemoveOptions{LockTimeout: time.Second}); !errors.Is(err, ErrLocalFolder) {
		t.Errorf("Remove outside models: %v, want ErrLocalFolder", err)
	}
}

func TestPull_localModelNotFetched(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "init"), 0o755)
	os.WriteFile(filepath.Join(dir, "init", "init.json"), []byte(initJSON("me/x", config.ExternalFile{SrcURL: fx.fs.URL + "/a.bin", Dest: "w"})), 0o644)
	res, err := fx.pull(context.Background(), dir, PullOptions{})
	if err != nil || !res.Model.Local || res.Fetched != 0 || fx.fs.Count("") != 0 {
		t.Errorf("local pull %+v %v, %d requests", res, err, fx.fs.Count(""))
	}
	if _, err := os.Stat(filepath.Join(fx.s.Home, "models")); err == nil {
		t.Error("a local pull created HOME/models")
	}
}

// Every real init.json of the upstream data parses and its destinations stay
// inside the model folder; the template is reported as a placeholder.
func TestConformance_realInitJSON(t *testing.T) {
	root := findRepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "..", "shared", "modelhub-data", "models", "*", "init.json"))
	if len(files) == 0 {
		t.Skip("../shared/modelhub-data is absent")
	}
	for _, p := range files {
		name := filepath.Base(filepath.Dir(p))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in, err := config.ParseInit(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		modelDir := filepath.Join(t.TempDir(), name)
		err = in.Check(modelDir)
		if name == "model-template" {
			if !errors.Is(err, config.ErrPlaceholder) {
				t.Errorf("template: %v, want ErrPlaceholder", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, f := range in.Files {
			dest, err := config.SafeDest(modelDir, f.Dest)
			if err != nil || !strings.HasPrefix(dest, modelDir+string(filepath.Separator)) {
				t.Errorf("%s: %q -> %q %v, want inside %s", name, f.Dest, dest, err, modelDir)
			}
		}
	}
	t.Logf("checked %d init.json files", len(files))
}

func findRepoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// A staged pull that failed is not resumed once the branch has moved on: the
// fixed init.json is used.
func TestPull_stagedCloneOutdated(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.repo.WriteFiles(map[string]string{"init/init.json": initJSON("x/y", config.ExternalFile{SrcURL: fx.fs.URL + "/gone.bin", Dest: "g"})})
	fx.repo.Commit("broken")
	if _, err := fx.pull(context.Background(), "demo", PullOptions{}); err == nil {
		t.Fatal("pull of a missing file succeeded")
	}
	if _, err := os.Stat(fx.s.stagingDir("Demo")); err != nil {
		t.Fatalf("staging folder not kept for resume: %v", err)
	}
	fx.repo.WriteFiles(map[string]string{"init/init.json": initJSON("x/y", config.ExternalFile{SrcURL: fx.fs.URL + "/a.bin", Dest: "g"})})
	fixed := fx.repo.Commit("fixed")
	var notes []string
	res, err := fx.pull(context.Background(), "demo", PullOptions{Note: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cloned || res.Model.Manifest.Commit != fixed || !strings.Contains(strings.Join(notes, "\n"), "starting over") {
		t.Errorf("result %+v notes %q, want a fresh clone of %s", res, notes, fixed)
	}
}

// A pinned commit: an older commit of the branch is installed; a pull of the
// same commit is only checked; another commit replaces it.
func TestPull_commit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	first := fx.repo.Head()
	fx.repo.WriteFiles(map[string]string{"contrib_src/run.py": "print('v2')\n"})
	second := fx.repo.Commit("v2")
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")

	if _, err := fx.pull(ctx, "demo", PullOptions{Commit: first}); err != nil {
		t.Fatal(err)
	}
	if man := fx.checkComplete(dir); man.Commit != first {
		t.Errorf("commit %s, want the pinned %s", man.Commit, first)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contrib_src/run.py")); string(got) != "print('hi')\n" {
		t.Errorf("run.py = %q, want the first commit's", got)
	}

	gitBefore, filesBefore := fx.gs.Requests(), fx.fs.Count("")
	res, err := fx.pull(ctx, "demo", PullOptions{Commit: first})
	if err != nil || !res.UpToDate || res.Cloned {
		t.Fatalf("pull of the installed commit: %+v %v, want up to date", res, err)
	}
	if fx.gs.Requests() != gitBefore || fx.fs.Count("") != filesBefore {
		t.Error("pull of the installed commit used the network")
	}

	res, err = fx.pull(ctx, "demo", PullOptions{Commit: second})
	if err != nil || !res.Cloned || res.Fetched != 0 || res.Reused != 2 {
		t.Fatalf("pull of another commit: %+v %v, want a clone that keeps both files", res, err)
	}
	if man := fx.checkComplete(dir); man.Commit != second {
		t.Errorf("commit %s, want %s", man.Commit, second)
	}

	_, err = fx.pull(ctx, "demo", PullOptions{Commit: strings.Repeat("cd", 20)})
	if !errors.Is(err, fetch.ErrCommitNotFound) {
		t.Errorf("unknown commit: %v, want ErrCommitNotFound", err)
	}
	if man := fx.checkComplete(dir); man.Commit != second {
		t.Errorf("a failed pinned pull changed the model to %s", man.Commit)
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ix, _ := fx.s.Index(context.Background())
	commit, in, err := Peek(context.Background(), &ix.Models[0])
	if err != nil || commit != fx.repo.Head() || in.DockerID != "modelhub/demo" {
		t.Fatalf("Peek = %s %+v %v, want the tip and its docker_id", commit, in, err)
	}
	if fx.fs.Count("") != 0 {
		t.Error("Peek downloaded external files")
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 0 {
		t.Errorf("Peek wrote into the models folder: %v", ents)
	}
}
