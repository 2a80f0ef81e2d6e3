package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

// predictEngine is the model answering predict's requests: a container that
// already ran (reused, left alone) or one predict started (stopped and removed
// by release unless --keep-running).
type predictEngine struct {
	d             dockerAPI
	model         *runModel
	apiBase       string
	containerID   string
	containerName string
	imageRef      string
	reused        bool
	keep          bool
	gpu           bool
	stop          func(context.Context) error // nil for a reused container
}

// containerFiles is what a multi-input case needs of Docker beyond dockerAPI.
type containerFiles interface {
	CopyFiles(ctx context.Context, id, dest string, files []dockerrun.CopyFile) error
	Exec(ctx context.Context, id string, cmd []string) (int, error)
}

// predictEngineFor finds the model's running container (the one `run -d` or
// `predict --keep-running` started, named modelhub-MODEL) or starts one as
// `run -d` does, on a free port of 127.0.0.1.
func predictEngineFor(ctx context.Context, opts *PredictOptions, m *runModel) (*predictEngine, error) {
	ios := opts.IO
	d, err := opts.Factory.Docker(ctx)
	if err != nil {
		return nil, err
	}
	e := &predictEngine{d: d, model: m, imageRef: m.DockerID, keep: opts.KeepRunning}
	if ct, ok := runningAPI(ctx, d, m.Name); ok {
		e.apiBase, e.containerID, e.containerName, e.reused, e.imageRef = ct.APIURL, ct.ID, ct.Name, true, ct.Image
		ios.Notef("using %s, already running at %s", m.Name, ct.APIURL)
		return e, nil
	}
	if err := e.start(ctx, opts); err != nil {
		return nil, err
	}
	return e, nil
}

// runningAPI is the model's running API container named modelhub-MODEL,
// if it answers.
func runningAPI(ctx context.Context, d dockerAPI, model string) (dockerrun.Container, bool) {
	ct, err := d.Inspect(ctx, containerName(model))
	if err != nil || !ct.Running || ct.Mode != dockerrun.ModeAPI || ct.APIURL == "" {
		return ct, false
	}
	return ct, answers(ctx, localHTTP, ct.APIURL+"/api/get_config")
}

// start runs the model through run's own steps (image, container plan,
// readiness), quietly: predict's stdout is for results.
func (e *predictEngine) start(ctx context.Context, opts *PredictOptions) error {
	m := e.model
	info, err := e.d.Info(ctx)
	if err != nil {
		return err
	}
	e.gpu = m.GPU && !opts.CPU
	if e.gpu && !info.NVIDIA {
		return fmt.Errorf("%s needs an NVIDIA GPU (the index marks it gpu), but this Docker engine has no NVIDIA runtime or CDI devices: install the NVIDIA Container Toolkit and restart Docker, or pass --cpu to try without a GPU", m.Name)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	ios := *opts.IO
	ios.Out = io.Discard
	ropts := &RunOptions{IO: &ios, Factory: opts.Factory, Model: m.Name, Host: defaultHost, APIPort: port, APIPortSet: true,
		JupyterPort: defaultJupyterPort, Detach: true, Timeout: opts.Timeout}
	if err := ensureImage(ctx, e.d, ropts, m.DockerID, info); err != nil {
		return err
	}
	name := containerName(m.Name) + "-predict-" + randomToken()[:8]
	if e.keep { // kept, it is the model's ordinary container: ps, stop and later predicts find it
		name = containerName(m.Name)
		if err := clearLeftover(ctx, e.d, name, m.Name); err != nil {
			return err
		}
	}
	st, spec, err := planContainer(ropts, m, name, e.gpu, "", "")
	if err != nil {
		return err
	}
	if st.id, err = e.d.Create(ctx, spec); err != nil {
		return err
	}
	ios.Quiet = true // predict says what it does itself
	opts.IO.Notef("starting %s (container %s)…", m.Name, name)
	if err := runServe(ctx, ropts, e.d, st); err != nil {
		return err // runServe removed the container
	}
	e.apiBase, e.containerID, e.containerName = st.apiBase, st.id, name
	e.stop = func(ctx context.Context) error {
		err := e.d.Stop(ctx, st.id, testStopGrace)
		if rerr := e.d.Remove(ctx, st.id); rerr != nil && !errors.Is(rerr, dockerrun.ErrContainerNotFound) {
			return rerr
		}
		if errors.Is(err, dockerrun.ErrContainerNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// release stops and removes a container predict started, unless kept.
func (e *predictEngine) release(ctx context.Context, ios *IOStreams) {
	if e.stop == nil {
		return
	}
	if e.keep {
		ios.Notef("%s keeps running at %s: `modelhub stop %s` stops it", e.model.Name, e.apiBase, e.model.Name)
		return
	}
	cctx, cancel := cleanupContext(ctx, testStopGrace+30*time.Second)
	defer cancel()
	if err := e.stop(cctx); err != nil {
		ios.Warnf("could not remove the container %s: %v; remove it with `modelhub stop %s`", e.containerName, err, e.model.Name)
	}
}

func (e *predictEngine) image(ctx context.Context) (dockerrun.Image, error) {
	return e.d.ImageInspect(ctx, e.imageRef)
}

// copier gives multi-input cases to the container (nil when Docker cannot copy).
func (e *predictEngine) copier() predict.Copier {
	fs, ok := e.d.(containerFiles)
	if !ok || e.containerID == "" {
		return nil
	}
	return &containerCopier{fs: fs, id: e.containerID, dir: "modelhub-predict-" + randomToken()[:12]}
}

// caseRoot is where cases are copied in the container: /tmp exists in every
// image, and it is not the engine's /working, which the engine empties after
// each prediction (a file of a case in flight would vanish).
const caseRoot = "/tmp"

// containerCopier copies each case's files into the container, under
// /tmp/modelhub-predict-XXXX/N/NAME.EXT, and removes them after the prediction.
type containerCopier struct {
	fs  containerFiles
	id  string
	dir string
	n   atomic.Int64
}

func (c *containerCopier) CopyCase(ctx context.Context, files []predict.CaseFile) (map[string]string, func(context.Context), error) {
	sub := fmt.Sprintf("%s/%d", c.dir, c.n.Add(1))
	var cf []dockerrun.CopyFile
	paths := map[string]string{}
	for _, f := range files {
		name := sub + "/" + predict.SafeFileName(f.Input) + predict.FileExt(f.Path)
		cf = append(cf, dockerrun.CopyFile{Host: f.Path, Name: name})
		paths[f.Input] = caseRoot + "/" + name
	}
	if err := c.fs.CopyFiles(ctx, c.id, caseRoot, cf); err != nil {
		return nil, nil, err
	}
	cleanup := func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, _ = c.fs.Exec(cctx, c.id, []string{"rm", "-rf", caseRoot + "/" + sub})
	}
	return paths, cleanup, nil
}
