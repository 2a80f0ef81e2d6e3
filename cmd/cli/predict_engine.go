package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// predictStopGrace is how long a container predict started gets to stop
// once the batch is over (nothing is in flight any more).
const predictStopGrace = 3 * time.Second

// predictEngine is the model answering predict's requests: a container that
// already ran (reused, left alone) or one predict started through launch
// (stopped and removed by release unless --keep-running).
type predictEngine struct {
	d        dockerrun.API
	h        *launch.Handle
	model    string
	imageRef string
	reused   bool
	keep     bool
	gpu      bool
	// external: --engine, an engine predict neither started nor found in Docker.
	external bool
}

func (e *predictEngine) apiBase() string   { return e.h.APIURL }
func (e *predictEngine) container() string { return e.h.Container }

// predictEngineFor uses the model's running API container (`modelhub ps`:
// one `run -d` or `predict --keep-running` started) when it answers, or starts
// the model through launch, as `run -d` does, on a free port of 127.0.0.1.
func predictEngineFor(ctx context.Context, opts *PredictOptions, m *store.Model) (*predictEngine, error) {
	ios := opts.IO
	if opts.Engine != "" {
		if err := (launch.Poller{}).Wait(ctx, engine.ReadyURL(opts.Engine), opts.Timeout, nil); err != nil {
			return nil, fmt.Errorf("the engine at %s did not answer %s within %s: %w (is the model running there?)", opts.Engine, engine.ReadyRoute, opts.Timeout, err)
		}
		ios.Notef("using the engine at %s", opts.Engine)
		return &predictEngine{h: &launch.Handle{Model: m.Name, APIURL: opts.Engine}, model: m.Name, imageRef: imageOf(m),
			reused: true, external: true, gpu: !opts.CPU && m.Manifest != nil && m.Manifest.Entry.GPU}, nil
	}
	d, err := opts.Docker(ctx)
	if err != nil {
		return nil, err
	}
	e := &predictEngine{d: d, model: m.Name, imageRef: imageOf(m), keep: opts.KeepRunning}
	if h, err := launch.FindRunning(ctx, d, m.Name); err == nil && h.Mode == dockerrun.ModeAPI && h.APIURL != "" &&
		(launch.Poller{}).Wait(ctx, engine.ReadyURL(h.APIURL), 5*time.Second, nil) == nil {
		e.h, e.reused = h, true
		if ct, err := d.Inspect(ctx, h.ID); err == nil && ct.Image != "" {
			e.imageRef = ct.Image
		}
		ios.Notef("using %s, already running at %s", m.Name, h.APIURL)
		return e, nil
	} else if err != nil && !errors.Is(err, launch.ErrNotRunning) {
		return nil, err
	}
	gpu := launch.GPUAuto
	if opts.CPU {
		gpu = launch.GPUOff
	}
	lo := launch.Options{Resolved: m, GPU: gpu, Timeout: opts.Timeout, Kill: opts.Forced}
	if !e.keep { // kept, it is the model's own container: ps, stop and later predicts find it
		lo.Container = launch.UniqueContainerName(m.Name, "predict")
	}
	ev := launchEvents(ios)
	ev.Starting = func(h *launch.Handle) { ios.Notef("starting %s (container %s)…", h.Model, h.Container) }
	ev.Stopping = func(h *launch.Handle) { ios.Notef("stopping %s (press Ctrl+C again to kill it now)…", h.Model) }
	deps := launch.Deps{Docker: func(context.Context) (dockerrun.API, error) { return d, nil }}
	if s, err := opts.Store(); err == nil {
		deps.Home = s.Home // a downloaded model starts under its lock
	}
	h, err := launch.Start(ctx, deps, lo, ev)
	if err != nil {
		var gpuErr *launch.NoGPUError
		if errors.As(err, &gpuErr) {
			return nil, fmt.Errorf("%w, or pass --cpu to try without a GPU", err)
		}
		printLogTail(ios, err)
		return nil, err
	}
	e.h = h
	e.gpu = !opts.CPU && m.Manifest != nil && m.Manifest.Entry.GPU
	return e, nil
}

// release stops and removes a container predict started, unless kept; it
// works after a Ctrl-C too (launch's Stop does not use ctx's cancellation).
func (e *predictEngine) release(ctx context.Context, ios *IOStreams) {
	if e.reused {
		return
	}
	if e.keep {
		ios.Notef("%s keeps running at %s: `modelhub stop %s` stops it", e.model, e.h.APIURL, e.model)
		return
	}
	if err := e.h.StopWithin(ctx, predictStopGrace); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
		ios.Warnf("could not remove the container %s: %v; remove it with `modelhub stop %s`", e.h.Container, err, e.model)
	}
}

func (e *predictEngine) image(ctx context.Context) (dockerrun.Image, error) {
	if e.d == nil {
		return dockerrun.Image{}, errors.New("no Docker engine: the image is not inspected")
	}
	return e.d.ImageInspect(ctx, e.imageRef)
}

// copier gives the local files of multi-input cases to the container; an
// --engine sees them where they are.
func (e *predictEngine) copier() predict.Copier {
	if e.external {
		return samePaths{}
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &containerCopier{d: e.d, id: e.h.ID, dir: "modelhub-predict-" + hex.EncodeToString(b)}
}

// caseRoot is where cases are copied in the container: /tmp exists in every
// image, and it is not the engine's /working, which the engine empties after
// each prediction (a file of a case in flight would vanish).
const caseRoot = "/tmp"

// containerCopier copies each case's files into the container, under
// /tmp/modelhub-predict-XXXX/N/NAME.EXT, and removes them after the prediction.
type containerCopier struct {
	d   dockerrun.API
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
	if err := c.d.CopyFiles(ctx, c.id, caseRoot, cf); err != nil {
		return nil, nil, err
	}
	cleanup := func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, _, _ = c.d.Exec(cctx, c.id, []string{"rm", "-rf", caseRoot + "/" + sub})
	}
	return paths, cleanup, nil
}

// samePaths gives an engine that shares predict's filesystem (the model and
// predict containers of a pod, both mounting the cohort at the same path) each
// case's files where they are.
type samePaths struct{}

func (samePaths) CopyCase(ctx context.Context, files []predict.CaseFile) (map[string]string, func(context.Context), error) {
	paths := map[string]string{}
	for _, f := range files {
		paths[f.Input] = f.Path
	}
	return paths, func(context.Context) {}, nil
}
