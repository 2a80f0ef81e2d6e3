package launch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// ErrNotReady: the model did not answer within the time it was given.
var ErrNotReady = errors.New("the model did not become ready")

// ErrExited: the container stopped before the model answered.
var ErrExited = errors.New("the container exited before the model answered")

// Poller is the one readiness poller: it asks a URL until it answers 200 OK.
type Poller struct {
	// Client makes the requests (nil: the engine package's loopback client).
	Client *http.Client
	// Interval between requests (0: DefaultReadyInterval).
	Interval time.Duration
	// RequestTimeout bounds one request (0: 2 s).
	RequestTimeout time.Duration
}

// Wait polls url until it answers 200 (nil), exited is closed (ErrExited;
// exited may be nil), ctx ends (ctx's error), or timeout passes: an error
// matching ErrNotReady that names the last answer.
func (p Poller) Wait(ctx context.Context, url string, timeout time.Duration, exited <-chan struct{}) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultReadyInterval
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last error
	for {
		select {
		case <-tctx.Done():
			if err := ctx.Err(); err != nil {
				return err
			}
			if last == nil {
				last = errors.New("no answer")
			}
			return fmt.Errorf("%w within %s (last: %v): raise --timeout or look at the container's logs", ErrNotReady, timeout, last)
		case <-exited:
			return ErrExited
		case <-t.C:
		}
		if err := p.Answers(tctx, url); err == nil {
			return nil
		} else if tctx.Err() == nil || last == nil {
			last = err
		}
		t.Reset(interval)
	}
}

// Answers asks url once: nil when it answers 200 OK.
func (p Poller) Answers(ctx context.Context, url string) error {
	wait := p.RequestTimeout
	if wait <= 0 {
		wait = 2 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return engine.Answers(rctx, p.Client, url)
}
