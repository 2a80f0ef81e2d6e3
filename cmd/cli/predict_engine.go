package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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

// predictSession gives predict its running model (launch.Acquire): the
// --engine, the model's running API container (`modelhub ps`: one `run -d`
// or `predict --keep-running` started) when it answers, or one started as
// `run -d` does, on a free port of 127.0.0.1 (or --api-port), removed by
// release unless --keep-running.
func predictSession(ctx context.Context, opts *PredictOptions, m *store.Model) (*launch.Session, error) {
	deps, so, ev := predictLaunch(opts, m)
	sess, err := launch.Acquire(ctx, deps, so, ev)
	if err != nil {
		return nil, predictStartError(opts.IO, opts.GPUs, err)
	}
	switch {
	case sess.External:
		opts.IO.Notef("using the engine at %s", sess.URL)
	case sess.Reused:
		opts.IO.Notef("using %s, already running at %s", m.Name, sess.URL)
	}
	return sess, nil
}

// predictLaunch is how predict starts a model: its launch dependencies,
// session options and progress lines.
func predictLaunch(opts *PredictOptions, m *store.Model) (launch.Deps, launch.SessionOptions, launch.Events) {
	ios := opts.IO
	gpu := launch.GPUAuto
	if opts.CPU {
		gpu = launch.GPUOff
	}
	so := launch.SessionOptions{
		Options: launch.Options{Resolved: m, GPU: gpu, GPUs: opts.GPUs, APIPort: opts.APIPort, APIPortFixed: opts.APIPort != 0,
			Timeout: opts.Timeout, Kill: opts.Forced},
		Engine: opts.Engine, Reuse: true, Keep: opts.KeepRunning, Purpose: "predict", StopGrace: predictStopGrace,
	}
	ev := launchEvents(ios)
	ev.Starting = func(h *launch.Handle) { ios.Notef("starting %s (container %s)…", h.Model, h.Container) }
	ev.Stopping = func(h *launch.Handle) { ios.Notef("stopping %s (press Ctrl+C again to kill it now)…", h.Model) }
	deps := launch.Deps{Docker: opts.Docker}
	if s, err := opts.Store(); err == nil {
		deps.Home = s.Home // a downloaded model starts under its lock
	}
	return deps, so, ev
}

// predictStartError prints the log's end a failed start carries and words
// a missing GPU for predict (gpus: --gpus).
func predictStartError(ios *IOStreams, gpus string, err error) error {
	var gpuErr *launch.NoGPUError
	if errors.As(err, &gpuErr) {
		return fmt.Errorf("%w, %s", err, noGPUHint(gpus, "pass"))
	}
	fprintf(ios.ErrOut, "%s", launch.LogTailOf(err))
	return err
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

// predictEngines are the model's engines a batch is sent to: one session,
// or replicas (--replicas).
type predictEngines struct {
	first *launch.Session  // the one session, or the first replica
	reps  *launch.Replicas // nil without replicas
}

// predictEnginesFor starts what the batch needs: with --replicas (n of
// them, n >= 1 when given) replicas of the model, else one session.
func predictEnginesFor(ctx context.Context, opts *PredictOptions, m *store.Model, pending int) (*predictEngines, error) {
	if opts.Replicas == "" {
		s, err := predictSession(ctx, opts, m)
		if err != nil {
			return nil, err
		}
		return &predictEngines{first: s}, nil
	}
	ios := opts.IO
	d, err := opts.Docker(ctx)
	if err != nil {
		return nil, err
	}
	deps, so, ev := predictLaunch(opts, m)
	deps.Docker = func(context.Context) (dockerrun.API, error) { return d, nil }
	info, err := d.Info(ctx)
	if err != nil {
		return nil, err
	}
	n, why := 0, ""
	if opts.Replicas == "auto" {
		if n, why, err = launch.AutoReplicas(info, opts.GPUs); err != nil {
			return nil, &UsageError{Err: err}
		}
		if n > pending {
			n, why = pending, fmt.Sprintf("%s, but only %d input(s) to do", why, pending)
		}
	} else {
		n, _ = strconv.Atoi(opts.Replicas)
	}
	gpus, err := launch.ReplicaGPUs(opts.GPUs, n, info.GPUs)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	if why != "" {
		ios.Notef("starting %d replica(s) of %s (%s)", n, m.Name, why)
	} else {
		ios.Notef("starting %d replica(s) of %s", n, m.Name)
	}
	reps, err := launch.StartReplicas(ctx, deps, so, n, gpus, ev)
	if err != nil {
		return nil, predictStartError(ios, opts.GPUs, err)
	}
	return &predictEngines{first: reps.Sessions()[0], reps: reps}, nil
}

// release removes the containers predict started (see releaseSession).
func (e *predictEngines) release(ctx context.Context, ios *IOStreams) {
	if e.reps == nil {
		releaseSession(ctx, ios, e.first)
		return
	}
	if err := e.reps.Release(ctx); err != nil {
		ios.Warnf("could not remove a replica: %v; `modelhub stop %s` removes them", err, e.first.Model)
	}
}

// containers are the replicas' containers, restarted ones included (nil
// for one session).
func (e *predictEngines) containers() []string {
	if e.reps == nil {
		return nil
	}
	return e.reps.Containers()
}

// wire points the runner at the engines: one client, or one per replica
// with a restart of a replica that stops answering.
func (e *predictEngines) wire(ios *IOStreams, r *predict.Runner, jobs int) {
	engine := func(s *launch.Session) predict.Engine {
		return predict.Engine{Client: &engine.Client{Base: s.URL, HTTP: engine.NewHTTP(jobs)}, Copier: sessionCopier(s)}
	}
	if e.reps == nil {
		one := engine(e.first)
		r.Client, r.Copier = one.Client, one.Copier
		return
	}
	for _, s := range e.reps.Sessions() {
		r.Engines = append(r.Engines, engine(s))
	}
	r.Down = func(ctx context.Context, slot int, cause error) predict.Recovery {
		s := e.reps.Sessions()[slot]
		if s == nil || ctx.Err() != nil {
			return predict.Recovery{}
		}
		if s.Alive(ctx, launch.Poller{}, replicaAliveWait) {
			return predict.Recovery{Up: true}
		}
		ios.Notef("replica %d (container %s) stopped answering (%v); restarting it", slot+1, s.Container, cause)
		tail := s.LogTail(ctx) // before the restart removes the container
		ns, err := e.reps.Restart(ctx, slot)
		if err != nil {
			if ctx.Err() == nil {
				// why it could not start again, else why it stopped
				if why := launch.LogTailOf(err); why != "" {
					fprintf(ios.ErrOut, "%s", why)
				} else if len(tail) > 0 {
					fprintf(ios.ErrOut, "%s", launch.FrameLog(s.Container, tail))
				}
				ios.Warnf("replica %d dropped: %v; the other replicas go on", slot+1, err)
			}
			return predict.Recovery{}
		}
		ios.Notef("replica %d restarted (container %s)", slot+1, ns.Container)
		next := engine(ns)
		return predict.Recovery{Next: &next}
	}
}

// replicaAliveWait bounds the check that a replica still answers after a
// request to it failed without an answer.
const replicaAliveWait = 5 * time.Second

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

// noGPUHint says how to go on without a GPU: without --gpus when it was
// given (--cpu cannot be combined with it), else with --cpu (verb: how to
// say it, "pass" or "run with").
func noGPUHint(gpus, verb string) string {
	if gpus != "" {
		return "or leave out --gpus to try without a GPU"
	}
	return "or " + verb + " --cpu to try without a GPU"
}
