package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// An index server that never stops sending (issue 21, "what held": the endless
// index): Load reads at most MaxIndexSize+1 bytes, fails naming the limit and
// caches nothing.
func TestSourceEndlessIndex(t *testing.T) {
	var sent atomic.Int64
	chunk := []byte("[" + strings.Repeat(`{"id": "1", "name": "x"},`, 1<<10))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	_, err := (&Source{Location: srv.URL + "/models.json", CacheDir: cache}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Fatalf("an endless index: %v, want an error naming the 32 MiB limit", err)
	}
	// what the server managed to send before the client hung up: the limit
	// plus what the connection buffers, not an unbounded stream
	if got := sent.Load(); got > MaxIndexSize+64<<20 {
		t.Errorf("the server sent %d MiB before the client stopped reading", got>>20)
	}
	if _, err := (&Source{Location: srv.URL + "/models.json", CacheDir: cache, Offline: true}).Load(context.Background()); err == nil {
		t.Errorf("the endless index left a cached copy behind")
	}
}
