package modeltest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitReady(t *testing.T) {
	old := ReadyPoll
	ReadyPoll = 5 * time.Millisecond
	defer func() { ReadyPoll = old }()

	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/get_config" {
			t.Errorf("polled %s", r.URL.Path)
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	if err := WaitReady(context.Background(), srv.Client(), srv.URL, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d polls, want 3", calls.Load())
	}

	// Never ready: ErrNotReady naming the last answer.
	calls.Store(-1 << 20)
	err := WaitReady(context.Background(), srv.Client(), srv.URL, 30*time.Millisecond, nil)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "--timeout") {
		t.Errorf("got %v", err)
	}

	// The check ends the wait.
	exited := errors.New("container exited with status 1")
	if err := WaitReady(context.Background(), srv.Client(), srv.URL, time.Second, func(context.Context) error { return exited }); !errors.Is(err, exited) {
		t.Errorf("got %v", err)
	}

	// Cancellation is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitReady(ctx, srv.Client(), srv.URL, time.Second, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}
