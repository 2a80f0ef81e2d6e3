package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// testStopGrace is how long a test container gets to stop before it is killed.
const testStopGrace = 3 * time.Second

// dockerTestEngine starts and finds model containers for `modelhub test` through launch.
type dockerTestEngine struct {
	d      dockerrun.API
	io     *IOStreams
	forced <-chan struct{} // the second Ctrl-C: kill at once
	// home is the store's home: a downloaded model is started under its
	// lock ("": none known)
	home string
}

// testEngineFor connects to Docker lazily, on the first call.
func testEngineFor(ios *IOStreams, docker func(context.Context) (dockerrun.API, error), forced <-chan struct{}, newStore func() (*store.Store, error)) func(context.Context) (TestEngine, error) {
	return func(ctx context.Context) (TestEngine, error) {
		d, err := docker(ctx)
		if err != nil {
			return nil, err
		}
		e := &dockerTestEngine{d: d, io: ios, forced: forced}
		if s, err := newStore(); err == nil {
			e.home = s.Home
		}
		return e, nil
	}
}

// Start runs the model folder like `run -d`: image pulled if missing, contrib_src
// mounted, the REST API bound to a free port on 127.0.0.1, under the unique name
// modelhub-NAME-test-XXXXXXXX, and waits until it answers (a crash or a timeout
// removes the container and says why).
func (e *dockerTestEngine) Start(ctx context.Context, dir, name string, timeout time.Duration) (string, func(context.Context) error, error) {
	m := &store.Model{Name: name, Dir: dir, Local: true}
	if man, err := store.ReadManifest(dir); err == nil {
		m.Manifest = man // its GPU flag and image
	}
	s, err := launch.Acquire(ctx, launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return e.d, nil }, Home: e.home},
		launch.SessionOptions{Options: launch.Options{Resolved: m, Timeout: timeout, Kill: e.forced}, Purpose: "test", StopGrace: testStopGrace}, launch.Events{})
	if err != nil {
		fprintf(e.io.ErrOut, "%s", launch.LogTailOf(err))
		return "", nil, err
	}
	return s.URL, s.Release, nil
}

// Running counts the running containers labelled with the model (ignoring case).
func (e *dockerTestEngine) Running(ctx context.Context, name string) (int, error) {
	cs, err := launch.ModelContainers(ctx, e.d, name, true)
	return len(cs), err
}

// Port is the host port of the REST API of the model's running container.
func (e *dockerTestEngine) Port(ctx context.Context, name string) (int, error) {
	h, err := launch.FindRunning(ctx, e.d, name)
	if err != nil {
		return 0, err
	}
	if h.APIPort == 0 {
		return 0, fmt.Errorf("the container %s publishes no REST API port", h.Container)
	}
	return h.APIPort, nil
}
