package engine

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// An upload streams from disk: sending a 32 MiB file allocates a small
// fraction of it.
func TestClient_uploadStreams(t *testing.T) {
	var got int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"output": []}`))
	}))
	defer srv.Close()
	p := filepath.Join(t.TempDir(), "big.png")
	f, _ := os.Create(p)
	f.Truncate(32 << 20)
	f.Close()
	c := &Client{Base: srv.URL, HTTP: NewHTTP(1)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := c.PredictFile(t.Context(), p, "big.png", "image/png"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got < 32<<20 {
		t.Fatalf("the server got %d bytes", got)
	}
	// the server's side of the copy allocates too; both together stay far below the file
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("uploading 32 MiB allocated %d bytes", alloc)
	}
}
