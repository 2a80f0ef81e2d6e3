package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/bundle"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// startingDocker is a fake engine whose Create blocks until release is
// closed (entered is closed when it is called); its List shows the model's
// container once created ("created", then "running" once started).
type startingDocker struct {
	*testutil.FakeDocker
	entered, release chan struct{}
	mu               sync.Mutex
	state            string
	contrib          string
}

func newStartingDocker() *startingDocker {
	sd := &startingDocker{entered: make(chan struct{}), release: make(chan struct{})}
	sd.FakeDocker = &testutil.FakeDocker{
		CreateFunc: func(ctx context.Context, s dockerrun.Spec) (string, error) {
			close(sd.entered)
			<-sd.release
			sd.mu.Lock()
			sd.state, sd.contrib = "created", s.ContribSrc
			sd.mu.Unlock()
			return "id-" + s.Name, nil
		},
		StartFunc: func(ctx context.Context, id string) error {
			sd.mu.Lock()
			sd.state = "running"
			sd.mu.Unlock()
			return nil
		},
		ListFunc: func(ctx context.Context, all bool) ([]dockerrun.Container, error) {
			sd.mu.Lock()
			defer sd.mu.Unlock()
			if sd.state == "" || (!all && sd.state != "running") {
				return nil, nil
			}
			return []dockerrun.Container{{ID: "id-modelhub-m", Name: "modelhub-m", Model: "m", State: sd.state, Running: sd.state == "running", ContribSrc: sd.contrib}}, nil
		},
	}
	sd.Images(map[string]dockerrun.Image{"img:1": {OS: "linux", Arch: "amd64"}})
	return sd
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond (a state another goroutine reaches, not a timing
// guess) and fails after a generous bound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rm -y while `run -d` is starting the model (its container is being
// created) waits for the start, then refuses: the folder stays. Before, rm
// looked for running containers only, before taking the lock that run did
// not hold, and deleted the folder of the starting model.
func Test_rm_duringRunStart(t *testing.T) {
	sd := newStartingDocker()
	f, _, _ := runFactory(t, sd.FakeDocker, false)
	dir := filepath.Join(f.Opts.Home, "models", "m")
	os.WriteFile(filepath.Join(dir, "contrib_src", "run.py"), []byte("print()"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ro := runOpts(f)
	ro.Detach, ro.NoUI = true, true
	runDone := make(chan error, 1)
	go func() { runDone <- runRun(ctx, ro) }()
	<-sd.entered // run is inside its start: the container is being created

	var rmErr syncBuffer
	rmIO := &IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &rmErr}
	rmDone := make(chan error, 1)
	go func() {
		rmDone <- rmRun(ctx, &RmOptions{IO: rmIO, Store: f.Store, InUse: modelRunning(f.Docker), Models: []string{"m"}, Yes: true})
	}()
	waitUntil(t, "rm to wait for the starting model", func() bool {
		return len(rmDone) > 0 || strings.Contains(rmErr.String(), "waiting for another modelhub process that is using m")
	})
	close(sd.release) // the container is created and started
	err := <-rmDone
	if !strings.Contains(rmErr.String(), "waiting for another modelhub process") {
		t.Errorf("rm did not wait for the model's start (%v): %s", err, rmErr.String())
	}
	if err == nil || err.Error() != "m is running or starting; stop it first (modelhub stop m)" {
		t.Errorf("rm = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "contrib_src", "run.py")); err != nil {
		t.Errorf("the starting model's folder was removed: %v", err)
	}
	cancel()
	<-runDone
}

// The lock is released once the container runs, and when a start fails.
func Test_runLock_released(t *testing.T) {
	for _, failCreate := range []bool{false, true} {
		sd := newStartingDocker()
		close(sd.release)
		if failCreate {
			sd.CreateFunc = func(context.Context, dockerrun.Spec) (string, error) { return "", os.ErrPermission }
		}
		f, _, _ := runFactory(t, sd.FakeDocker, false)
		ctx, cancel := context.WithCancel(context.Background())
		ro := runOpts(f)
		ro.Detach, ro.NoUI = true, true
		runDone := make(chan error, 1)
		go func() { runDone <- runRun(ctx, ro) }()
		if failCreate {
			if err := <-runDone; err == nil {
				t.Fatalf("run succeeded with a failing create")
			}
		} else {
			waitUntil(t, "the container to run", func() bool { return sd.Called("start") })
		}
		l, err := store.LockModel(context.Background(), f.Opts.Home, "m", time.Minute, nil)
		if err != nil {
			t.Fatalf("failCreate=%v: the model's lock is still held: %v", failCreate, err)
		}
		l.Unlock()
		cancel()
		if !failCreate {
			<-runDone
		}
	}
}

// noImages is a bundle.Images for bundles without images: never called.
type noImages struct{}

func (noImages) ImageInspect(context.Context, string) (dockerrun.Image, error) {
	return dockerrun.Image{}, dockerrun.ErrImageNotFound
}
func (noImages) ImageSave(context.Context, []string) (io.ReadCloser, error) {
	return nil, errors.New("no images")
}
func (noImages) ImageLoad(context.Context, io.Reader) ([]string, error) {
	return nil, errors.New("no images")
}
func (noImages) ImageTag(context.Context, string, string) error { return errors.New("no images") }
func (noImages) ImageRemove(context.Context, string) error      { return errors.New("no images") }

// load --force while `run -d` is starting the model waits for the start,
// then refuses to replace the folder of the running model.
func Test_loadForce_duringRunStart(t *testing.T) {
	// a bundle of m at another commit, with no image
	other := t.TempDir()
	odir := store.Dir(other, "m")
	os.MkdirAll(filepath.Join(odir, "contrib_src"), 0o755)
	os.MkdirAll(filepath.Join(odir, "init"), 0o755)
	os.WriteFile(filepath.Join(odir, "init", "init.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(odir, "contrib_src", "run.py"), []byte("other"), 0o644)
	if err := store.WriteManifest(odir, &store.Manifest{Entry: registry.Entry{Name: "m"}, Commit: "c2", Complete: true}); err != nil {
		t.Fatal(err)
	}
	mhb := filepath.Join(t.TempDir(), "m.mhb")
	if _, err := bundle.Save(context.Background(), bundle.SaveOptions{Store: &store.Store{Home: other}, Models: []string{"m"}, Output: mhb, Docker: noImages{}, Now: time.Now}); err != nil {
		t.Fatal(err)
	}

	sd := newStartingDocker()
	f, _, _ := runFactory(t, sd.FakeDocker, false)
	dir := filepath.Join(f.Opts.Home, "models", "m")
	os.WriteFile(filepath.Join(dir, "contrib_src", "run.py"), []byte("mine"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ro := runOpts(f)
	ro.Detach, ro.NoUI = true, true
	runDone := make(chan error, 1)
	go func() { runDone <- runRun(ctx, ro) }()
	<-sd.entered

	var loadErr syncBuffer
	loadIO := &IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &loadErr}
	loadDone := make(chan error, 1)
	go func() {
		loadDone <- loadRun(ctx, &LoadOptions{IO: loadIO, Store: f.Store, Docker: f.Docker, InUse: modelRunning(f.Docker), File: mhb, Force: true})
	}()
	waitUntil(t, "load to wait for the starting model", func() bool {
		return len(loadDone) > 0 || strings.Contains(loadErr.String(), "waiting for another modelhub process that is using m")
	})
	close(sd.release)
	err := <-loadDone
	if err == nil || !strings.Contains(err.Error(), "m is running or starting; stop it before replacing it (modelhub stop m)") {
		t.Errorf("load --force = %v, want a refusal (%s)", err, loadErr.String())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contrib_src", "run.py")); string(got) != "mine" {
		t.Errorf("the running model's folder was replaced: run.py holds %q", got)
	}
	cancel()
	<-runDone
}
