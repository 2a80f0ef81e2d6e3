package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// testStopGrace is how long a test container gets to stop before it is killed.
const testStopGrace = 3 * time.Second

// dockerTestEngine starts and finds model containers for `modelhub test` with the code
// of `modelhub run -d`.
type dockerTestEngine struct {
	f *Factory
	d dockerAPI
}

// testEngineFor connects to Docker lazily, on the first call.
func testEngineFor(f *Factory) func(context.Context) (TestEngine, error) {
	return func(ctx context.Context) (TestEngine, error) {
		d, err := f.Docker(ctx)
		if err != nil {
			return nil, err
		}
		return &dockerTestEngine{f: f, d: d}, nil
	}
}

// Start runs the model like `run -d`: image pulled if missing, contrib_src mounted, the
// REST API bound to a free port on 127.0.0.1, under the unique name
// modelhub-NAME-test-XXXXXXXX, and waits until it answers (a crash or a timeout removes
// the container and says why).
func (e *dockerTestEngine) Start(ctx context.Context, dir, name string, timeout time.Duration) (string, func(context.Context) error, error) {
	in, err := config.LoadInit(dir)
	if err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(in.DockerID) == "" || config.IsPlaceholder(in.DockerID) {
		return "", nil, fmt.Errorf("init/init.json: docker_id %q does not name an image: set it (see `modelhub validate`)", in.DockerID)
	}
	info, err := e.d.Info(ctx)
	if err != nil {
		return "", nil, err
	}
	gpu := false
	if man, err := store.ReadManifest(dir); err == nil {
		gpu = man.Entry.GPU
	}
	if gpu && !info.NVIDIA {
		return "", nil, fmt.Errorf("%s needs an NVIDIA GPU (the index marks it gpu), but this Docker engine has no NVIDIA runtime: install the NVIDIA Container Toolkit and restart Docker", name)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return "", nil, err
	}
	// run's own output (URLs, "runs in the background") is not ours to print.
	ios := *e.f.IO
	ios.Out = io.Discard
	ios.Quiet = true
	ropts := &RunOptions{IO: &ios, Factory: e.f, Model: name, Host: defaultHost, APIPort: port, APIPortSet: true,
		JupyterPort: defaultJupyterPort, Detach: true, Timeout: timeout}
	if err := ensureImage(ctx, e.d, ropts, in.DockerID, info); err != nil {
		return "", nil, err
	}
	cname := containerName(name) + "-test-" + randomToken()[:8]
	st, spec, err := planContainer(ropts, &runModel{Name: name, Dir: dir, DockerID: in.DockerID, GPU: gpu}, cname, gpu, "", "")
	if err != nil {
		return "", nil, err
	}
	if st.id, err = e.d.Create(ctx, spec); err != nil {
		return "", nil, err
	}
	if err := runServe(ctx, ropts, e.d, st); err != nil {
		return "", nil, err // runServe removed the container
	}
	stop := func(ctx context.Context) error {
		err := e.d.Stop(ctx, st.id, testStopGrace)
		if rerr := e.d.Remove(ctx, st.id); rerr != nil && !errors.Is(rerr, dockerrun.ErrContainerNotFound) {
			return rerr
		}
		if errors.Is(err, dockerrun.ErrContainerNotFound) {
			return nil
		}
		return err
	}
	return st.apiBase, stop, nil
}

// Running counts the running containers labelled with the model (ignoring case).
func (e *dockerTestEngine) Running(ctx context.Context, name string) (int, error) {
	cs, err := e.d.List(ctx, false)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cs {
		if c.Running && strings.EqualFold(c.Model, name) {
			n++
		}
	}
	return n, nil
}

// Port is the host port of the REST API of the model's running container.
func (e *dockerTestEngine) Port(ctx context.Context, name string) (int, error) {
	c, ok, err := findModelContainer(ctx, e.d, name)
	if err != nil {
		return 0, err
	}
	if !ok || !c.Running {
		return 0, fmt.Errorf("no container of %s is running", name)
	}
	for _, p := range c.Ports {
		if p.Container == 80 {
			return p.Host, nil
		}
	}
	return 0, fmt.Errorf("the container %s publishes no REST API port", c.Name)
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(defaultHost, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
