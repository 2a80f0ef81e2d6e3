package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/modelhub-ai/modelhub/internal/netconf"
)

// ErrGitNoAnswer: the git server did not connect, or sent nothing for
// Timeouts.Stall (before its first byte or in the middle of a transfer).
var ErrGitNoAnswer = errors.New("the git server did not answer")

// installGitTransport makes go-git's http and https transports bounded:
// go-git's own has no timeout, so a git host that accepts the connection
// and never answers would hang a clone forever. go-git looks transports up
// in a table of its own; this package is the only one that uses go-git, so
// it installs them once, before its first clone or listing. The timeouts of
// each clone or listing travel in its context (withGitStall).
var installGitTransport = sync.OnceFunc(func() {
	t := githttp.NewClient(&http.Client{Transport: &watchdogTransport{base: netconf.Explain(newGitTransport())}})
	client.InstallProtocol("http", t)
	client.InstallProtocol("https", t)
})

func newGitTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: gitTimeouts(ctx).connect(), KeepAlive: 30 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
	t.TLSHandshakeTimeout = defaultConnect // within the watchdog's Timeouts.Stall
	return t
}

// gitStall is put in the context of a clone or listing with its timeouts;
// the transport marks it when its watchdog fires, so the caller can say what
// happened (go-git flattens the transport's errors into text).
type gitStall struct {
	stalled atomic.Bool
	t       Timeouts
}

type gitStallKey struct{}

func withGitStall(ctx context.Context, t Timeouts) (context.Context, *gitStall) {
	st := &gitStall{t: t}
	return context.WithValue(ctx, gitStallKey{}, st), st
}

// gitTimeouts are the timeouts of the clone or listing ctx belongs to.
func gitTimeouts(ctx context.Context) Timeouts {
	if st, ok := ctx.Value(gitStallKey{}).(*gitStall); ok {
		return st.t
	}
	return Timeouts{}
}

// watchdogTransport cancels a request that receives nothing for
// Timeouts.Stall: no connection, no response headers, or a body that stops.
type watchdogTransport struct{ base http.RoundTripper }

func (t *watchdogTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	stall := gitTimeouts(req.Context()).stall()
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(stall, func() {
		if st, ok := req.Context().Value(gitStallKey{}).(*gitStall); ok {
			st.stalled.Store(true)
		}
		cancel(ErrGitNoAnswer)
	})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	resp.Body = &watchdogBody{rc: resp.Body, timer: timer, stall: stall, cancel: cancel}
	return resp, nil
}

type watchdogBody struct {
	rc     io.ReadCloser
	timer  *time.Timer
	stall  time.Duration
	cancel context.CancelCauseFunc
}

func (b *watchdogBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.stall)
	}
	if err != nil {
		b.timer.Stop()
	}
	return n, err
}

func (b *watchdogBody) Close() error {
	b.timer.Stop()
	b.cancel(nil)
	return b.rc.Close()
}
