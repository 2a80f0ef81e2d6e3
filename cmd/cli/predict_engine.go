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
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// predictStopGrace is how long a container predict started gets to stop
// once the batch is over (nothing is in flight any more).
const predictStopGrace = 3 * time.Second

// predictSession gives predict its running model (launch.Acquire): the
// --engine, the model's running API container (`modelhub ps`: one `run -d`
// or `predict --keep-running` started) when it answers, or one started as
// `run -d` does, on a free port of 127.0.0.1, removed by release unless
// --keep-running.
func predictSession(ctx context.Context, opts *PredictOptions, m *store.Model) (*launch.Session, error) {
	ios := opts.IO
	gpu := launch.GPUAuto
	if opts.CPU {
		gpu = launch.GPUOff
	}
	so := launch.SessionOptions{
		Options: launch.Options{Resolved: m, GPU: gpu, Timeout: opts.Timeout, Kill: opts.Forced},
		Engine:  opts.Engine, Reuse: true, Keep: opts.KeepRunning, Purpose: "predict", StopGrace: predictStopGrace,
	}
	ev := launchEvents(ios)
	ev.Starting = func(h *launch.Handle) { ios.Notef("starting %s (container %s)…", h.Model, h.Container) }
	ev.Stopping = func(h *launch.Handle) { ios.Notef("stopping %s (press Ctrl+C again to kill it now)…", h.Model) }
	deps := launch.Deps{Docker: opts.Docker}
	if s, err := opts.Store(); err == nil {
		deps.Home = s.Home // a downloaded model starts under its lock
	}
	sess, err := launch.Acquire(ctx, deps, so, ev)
	if err != nil {
		var gpuErr *launch.NoGPUError
		if errors.As(err, &gpuErr) {
			return nil, fmt.Errorf("%w, or pass --cpu to try without a GPU", err)
		}
		fprintf(ios.ErrOut, "%s", launch.LogTailOf(err))
		return nil, err
	}
	switch {
	case sess.External:
		ios.Notef("using the engine at %s", sess.URL)
	case sess.Reused:
		ios.Notef("using %s, already running at %s", m.Name, sess.URL)
	}
	return sess, nil
}

// releaseSession ends predict's session; a kept container is announced.
func releaseSession(ctx context.Context, ios *IOStreams, s *launch.Session) {
	if s.Kept {
		ios.Notef("%s keeps running at %s: `modelhub stop %s` stops it", s.Model, s.URL, s.Model)
		return
	}
	if err := s.Release(ctx); err != nil {
		ios.Warnf("could not remove the container %s: %v; remove it with `modelhub stop %s`", s.Container, err, s.Model)
	}
}

// sessionCopier gives the local files of multi-input cases to the session's
// container; an --engine sees them where they are.
func sessionCopier(s *launch.Session) predict.Copier {
	if s.External {
		return samePaths{}
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &containerCopier{d: s.Docker(), id: s.ID, dir: "modelhub-predict-" + hex.EncodeToString(b)}
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
