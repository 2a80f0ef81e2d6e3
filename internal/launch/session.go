package launch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
)

// A Session is a running model a job (predict, test, a web UI) sends its
// requests to, whoever started it. Acquire gives one of three kinds:
//
//   - external: an engine answering at a URL the caller gave (predict
//     --engine); no container, nothing to release;
//   - reused: the model's own API container that already runs (`run -d`,
//     `predict --keep-running`) and answers; left running on Release;
//   - started: a container Acquire started through Start (under a unique
//     name unless kept), stopped and removed by Release.
//
// Acquire cleans up after itself: on any error, and when ctx is cancelled
// (a Ctrl-C) at any step, no container it created is left; Release works
// after a cancellation too. Like cog's Predictor, one Session serves every
// command that needs a model answering, so none of them starts, polls or
// removes containers itself.
type Session struct {
	Model string
	// URL is the REST API's base URL, e.g. http://127.0.0.1:8000.
	URL string
	// Container and ID name the container ("" for an external engine).
	Container, ID string
	// Image is the image the model runs from (reused: the container's; else
	// the model's docker_id, "" when unknown).
	Image string
	// Reused: the container ran before Acquire; External: --engine.
	Reused, External bool
	// Kept: Release leaves a started container running.
	Kept bool
	// GPU: the model was given GPUs (started), or wants them (external).
	GPU bool

	d     dockerrun.API
	h     *Handle
	grace time.Duration
}

// SessionOptions say what Acquire gives.
type SessionOptions struct {
	// Options start the model when it must be started (Options.Resolved is
	// needed: the model is resolved by the caller).
	Options
	// Engine is the base URL of an engine that already answers (external):
	// it is polled up to Options.Timeout; nothing is started.
	Engine string
	// Reuse uses the model's own running API container when it answers
	// within ReuseWait.
	Reuse bool
	// ReuseWait bounds the check that a running container answers (0: 5 s).
	ReuseWait time.Duration
	// Keep leaves a started container running on Release, under the model's
	// own name (ps, stop and a later Acquire with Reuse find it).
	Keep bool
	// Purpose names a started container that is not kept:
	// UniqueContainerName(model, Purpose) ("": "session"). Ignored when
	// Options.Container is set.
	Purpose string
	// StopGrace is how long Release gives a started container to stop (0: StopGrace).
	StopGrace time.Duration
}

// Acquire gives a running model as opts say: the external engine, the
// model's running container (Reuse), or one it starts.
func Acquire(ctx context.Context, deps Deps, opts SessionOptions, ev Events) (*Session, error) {
	m := opts.Resolved
	if m == nil {
		return nil, errors.New("launch: Acquire needs a resolved model")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if opts.Engine != "" {
		if err := deps.Poller.Wait(ctx, engine.ReadyURL(opts.Engine), timeout, nil); err != nil {
			return nil, fmt.Errorf("the engine at %s did not answer %s within %s: %w (is the model running there?)", opts.Engine, engine.ReadyRoute, timeout, err)
		}
		image, _ := m.Image()
		return &Session{Model: m.Name, URL: opts.Engine, Image: image, Reused: true, External: true,
			GPU: opts.GPU != GPUOff && m.Manifest != nil && m.Manifest.Entry.GPU}, nil
	}
	d, err := deps.Docker(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Reuse {
		s, err := reuse(ctx, d, deps.Poller, m.Name, opts.ReuseWait)
		if s != nil || err != nil {
			return s, err
		}
	}
	lo := opts.Options
	if lo.Container == "" && !opts.Keep {
		purpose := opts.Purpose
		if purpose == "" {
			purpose = "session"
		}
		lo.Container = UniqueContainerName(m.Name, purpose)
	}
	deps.Docker = func(context.Context) (dockerrun.API, error) { return d, nil }
	h, err := Start(ctx, deps, lo, ev)
	if err != nil {
		return nil, err
	}
	image, _ := m.Image()
	gpu, _ := DecideGPU(m, opts.GPU, opts.GPUs)
	grace := opts.StopGrace
	if grace <= 0 {
		grace = StopGrace
	}
	return &Session{Model: h.Model, URL: h.APIURL, Container: h.Container, ID: h.ID, Image: image,
		Kept: opts.Keep, GPU: gpu, d: d, h: h, grace: grace}, nil
}

// reuse is a Session on the model's running API container when it answers
// within wait; nil (and no error) when none runs or it does not answer.
func reuse(ctx context.Context, d dockerrun.API, p Poller, model string, wait time.Duration) (*Session, error) {
	if wait <= 0 {
		wait = 5 * time.Second
	}
	h, err := FindRunning(ctx, d, model)
	if errors.Is(err, ErrNotRunning) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if h.Mode != dockerrun.ModeAPI || h.APIURL == "" || p.Wait(ctx, engine.ReadyURL(h.APIURL), wait, nil) != nil {
		return nil, nil
	}
	s := &Session{Model: model, URL: h.APIURL, Container: h.Container, ID: h.ID, Reused: true, d: d}
	if ct, err := d.Inspect(ctx, h.ID); err == nil {
		s.Image = ct.Image
	}
	return s, nil
}

// Started reports whether Release removes the container (one Acquire
// started and does not keep).
func (s *Session) Started() bool { return s.h != nil && !s.Kept }

// Docker is the engine the container runs on (nil for an external engine).
func (s *Session) Docker() dockerrun.API { return s.d }

// ImageInfo inspects the session's image (an error for an external engine).
func (s *Session) ImageInfo(ctx context.Context) (dockerrun.Image, error) {
	if s.d == nil {
		return dockerrun.Image{}, errors.New("no Docker engine: the image is not inspected")
	}
	return s.d.ImageInspect(ctx, s.Image)
}

// Exited is closed when a container the session started stops by itself
// (nil, never closed, for reused and external sessions).
func (s *Session) Exited() <-chan struct{} {
	if s.h == nil {
		return nil
	}
	return s.h.Exited()
}

// Alive reports whether the session's model still answers its ready route
// within wait.
func (s *Session) Alive(ctx context.Context, p Poller, wait time.Duration) bool {
	select {
	case <-s.Exited():
		return false
	default:
	}
	return p.Wait(ctx, engine.ReadyURL(s.URL), wait, s.Exited()) == nil
}

// LogTail is the end of the container's log (the last LogTail lines; nil
// for an external engine or when the engine cannot say).
func (s *Session) LogTail(ctx context.Context) []byte {
	if s.d == nil || s.ID == "" {
		return nil
	}
	h := s.h
	if h == nil {
		h = &Handle{d: s.d, ID: s.ID}
	}
	cctx, cancel := cleanupContext(ctx, cleanupWait)
	defer cancel()
	return h.tail(cctx)
}

// Release ends the session: a container it started (and does not keep) is
// stopped (StopGrace, at once when Options.Kill closes) and removed, also
// after ctx was cancelled; a reused, kept or external one is left alone.
// Calling it again does nothing.
func (s *Session) Release(ctx context.Context) error {
	if !s.Started() {
		return nil
	}
	h := s.h
	s.h = nil
	if err := h.StopWithin(ctx, s.grace); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
		return err
	}
	return nil
}

// LogTailOf is the end of a container's log that an error of Start or
// Acquire carries (a crash or a timeout whose log was not streamed),
// framed for a terminal: "--- last N log lines of NAME ---\n…---\n"; "" for
// any other error.
func LogTailOf(err error) string {
	var ce *CrashError
	var te *TimeoutError
	var name string
	var tail []byte
	switch {
	case errors.As(err, &ce) && !ce.LogShown:
		name, tail = ce.Container, ce.Log
	case errors.As(err, &te) && !te.LogShown:
		name, tail = te.Container, te.Log
	default:
		return ""
	}
	return FrameLog(name, tail)
}

// FrameLog frames the end of container's log for a terminal:
// "--- last N log lines of NAME ---\n…---\n".
func FrameLog(container string, tail []byte) string {
	return "--- last " + strconv.Itoa(LogTail) + " log lines of " + container + " ---\n" + string(tail) + "---\n"
}
