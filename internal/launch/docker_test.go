package launch_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveDemoImages()
	os.Exit(code)
}

// cancelling wraps the real engine and cancels a context a set time after
// Create or Start is called, while the request is in flight.
type cancelling struct {
	dockerrun.API
	at     string // "create" or "start"
	after  time.Duration
	cancel context.CancelFunc
}

func (c *cancelling) Create(ctx context.Context, s dockerrun.Spec) (string, error) {
	if c.at == "create" {
		time.AfterFunc(c.after, c.cancel)
	}
	return c.API.Create(ctx, s)
}

func (c *cancelling) Start(ctx context.Context, id string) error {
	if c.at == "start" {
		time.AfterFunc(c.after, c.cancel)
	}
	return c.API.Start(ctx, id)
}

// A cancellation at any moment around create and start (a Ctrl-C or SIGTERM
// in the first tens of milliseconds of `run`) leaves no container behind, on
// the real engine with the demo image.
func TestStart_cancelLeavesNoContainer(t *testing.T) {
	c := testutil.Docker(t)
	image := testutil.DemoImage(t, c)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testutil.DemoModelDir(t))); err != nil {
		t.Fatal(err)
	}
	model := testutil.UniqueName("demo")
	m := &store.Model{Name: model, Dir: dir, Local: true, Manifest: &store.Manifest{Complete: true, DockerID: image}}
	n := 0
	for _, at := range []string{"create", "start"} {
		for _, after := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
			20 * time.Millisecond, 35 * time.Millisecond, 50 * time.Millisecond, 80 * time.Millisecond, 120 * time.Millisecond} {
			n++
			ctx, cancel := context.WithCancel(context.Background())
			d := &cancelling{API: c, at: at, after: after, cancel: cancel}
			deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return d, nil }}
			h, err := launch.Start(ctx, deps, launch.Options{Resolved: m, Timeout: time.Minute}, launch.Events{})
			if err == nil {
				// ready before the cancellation: a Ctrl-C now stops it
				<-ctx.Done()
				err = h.Stop(ctx)
			} else if !errors.Is(err, context.Canceled) {
				t.Errorf("%s+%s: %v", at, after, err)
			}
			cancel()
			cs, lerr := c.List(context.Background(), true)
			if lerr != nil {
				t.Fatal(lerr)
			}
			for _, ct := range cs {
				if ct.Model == model {
					t.Errorf("cancelled %s after %s: container %s left in state %s", at, after, ct.Name, ct.State)
					c.Remove(context.Background(), ct.ID)
				}
			}
		}
	}
	t.Logf("%d cancelled starts", n)
}

// Two starts of one model at once on the real engine: one runs, the other
// says the model is already running (never Docker's raw name conflict).
func TestStart_concurrentSameModel(t *testing.T) {
	c := testutil.Docker(t)
	image := testutil.DemoImage(t, c)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testutil.DemoModelDir(t))); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		model := testutil.UniqueName("demo")
		m := &store.Model{Name: model, Dir: dir, Local: true, Manifest: &store.Manifest{Complete: true, DockerID: image}}
		deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return c, nil }}
		type result struct {
			h   *launch.Handle
			err error
		}
		results := make(chan result, 2)
		for range 2 {
			go func() {
				h, err := launch.Start(t.Context(), deps, launch.Options{Resolved: m, Timeout: time.Minute}, launch.Events{})
				results <- result{h, err}
			}()
		}
		ok := 0
		for range 2 {
			r := <-results
			if r.err == nil {
				ok++
				if err := r.h.Stop(context.Background()); err != nil {
					t.Error(err)
				}
				continue
			}
			if !strings.Contains(r.err.Error(), model+" is already running") || strings.Contains(strings.ToLower(r.err.Error()), "conflict") {
				t.Errorf("round %d: %v", round, r.err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d starts succeeded, want 1", round, ok)
		}
		leftContainers(t, c, model)
	}
}

// leftContainers fails when a container of model (its label) exists.
func leftContainers(t *testing.T, c dockerrun.API, model string) {
	t.Helper()
	cs, err := c.List(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		if ct.Model == model {
			t.Errorf("container %s of %s left in state %s", ct.Name, model, ct.State)
			c.Remove(context.Background(), ct.ID)
		}
	}
}

// A cancellation (Ctrl-C) at each step of Start, on the real engine, leaves
// no container: the steps report through Options.Step, and the test looks
// for containers by the model's label, unique to the test.
func TestStart_cancelAtEachStep(t *testing.T) {
	c := testutil.Docker(t)
	image := testutil.DemoImage(t, c)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testutil.DemoModelDir(t))); err != nil {
		t.Fatal(err)
	}
	steps := []string{launch.StepEngine, launch.StepModel, launch.StepImage, launch.StepCreate, launch.StepCreated, launch.StepStarted, launch.StepReady}
	for _, at := range steps {
		t.Run(at, func(t *testing.T) {
			model := testutil.UniqueName("demo-cancel")
			m := &store.Model{Name: model, Dir: dir, Local: true, Manifest: &store.Manifest{Complete: true, DockerID: image}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var seen []string
			deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return c, nil }}
			_, err := launch.Start(ctx, deps, launch.Options{Resolved: m, Timeout: time.Minute, Step: func(s string) {
				seen = append(seen, s)
				if s == at {
					cancel()
				}
			}}, launch.Events{})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v (steps %v)", err, seen)
			}
			last := at
			if at == launch.StepCreate {
				last = launch.StepCreated // the create request runs to its end
			}
			if len(seen) == 0 || seen[len(seen)-1] != last {
				t.Errorf("steps %v, want them to end at %s", seen, last)
			}
			leftContainers(t, c, model)
		})
	}
}

// A cancellation while the second of two replicas starts (at each of its
// steps), on the real engine: StartReplicas returns ctx's error and removes
// the first replica too; no container is left.
func TestStartReplicas_cancelAtEachStep(t *testing.T) {
	c := testutil.Docker(t)
	image := testutil.DemoImage(t, c)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testutil.DemoModelDir(t))); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{launch.StepEngine, launch.StepImage, launch.StepCreated, launch.StepStarted, launch.StepReady} {
		t.Run(at, func(t *testing.T) {
			model := testutil.UniqueName("demo-replicas")
			m := &store.Model{Name: model, Dir: dir, Local: true, Manifest: &store.Manifest{Complete: true, DockerID: image}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			n := 0
			deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return c, nil }}
			o := launch.SessionOptions{Options: launch.Options{Resolved: m, Timeout: time.Minute, Step: func(s string) {
				mu.Lock()
				defer mu.Unlock()
				if s == at {
					if n++; n == 2 {
						cancel()
					}
				}
			}}}
			_, err := launch.StartReplicas(ctx, deps, o, 2, nil, launch.Events{})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v (step %s reached %d times)", err, at, n)
			}
			leftContainers(t, c, model)
		})
	}
}
