package dockerrun_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A daemon that accepts the connection and never answers: Connect gives up
// after its PingTimeout with one line naming the address, DOCKER_HOST and
// what to check. (Not parallel: it sets DOCKER_HOST.)
func TestConnect_silentDaemon(t *testing.T) {
	o := dockerrun.ConnectOptions{PingTimeout: 300 * time.Millisecond}
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			l := testutil.NewSilentListener(t, network)
			host := network + "://" + l.Addr
			t.Setenv("DOCKER_HOST", host)
			start := time.Now()
			_, err := dockerrun.Connect(t.Context(), o)
			if !errors.Is(err, dockerrun.ErrUnreachable) || !errors.Is(err, dockerrun.ErrNoAnswer) {
				t.Fatalf("err %v, want ErrUnreachable and ErrNoAnswer", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Connect took %s with a %s timeout", d, o.PingTimeout)
			}
			msg := err.Error()
			for _, want := range []string{host, "(DOCKER_HOST)", "did not answer within 300ms", "check that DOCKER_HOST names a running Docker daemon"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%q lacks %q", msg, want)
				}
			}
			if l.Accepted() == 0 {
				t.Error("the listener accepted no connection: the test did not test a silent daemon")
			}
		})
	}
}

// A cancelled ping (Ctrl-C) is a cancellation, never "no daemon": callers
// that treat an absent daemon as "nothing runs" must not go on.
func TestPing_cancelledIsNotUnreachable(t *testing.T) {
	l := testutil.NewSilentListener(t, "unix")
	t.Setenv("DOCKER_HOST", "unix://"+l.Addr)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := dockerrun.Connect(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, dockerrun.ErrUnreachable) {
		t.Fatalf("err %v, want context.Canceled and not ErrUnreachable", err)
	}
}
