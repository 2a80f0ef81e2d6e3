package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingServer serves sample with an ETag and records the requests it sees.
type countingServer struct {
	*httptest.Server
	mu          sync.Mutex
	full, n304  int
	ifNoneMatch []string
	status      int // when set, answer this status instead
}

func newCountingServer(t *testing.T) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != 0 {
			w.WriteHeader(s.status)
			return
		}
		s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2026 15:04:05 GMT")
		if r.Header.Get("If-None-Match") == `"v1"` {
			s.n304++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.full++
		_, _ = w.Write([]byte(sample))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full, s.n304
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSourceCacheRevalidation(t *testing.T) {
	srv := newCountingServer(t)
	clk := &clock{time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	src := &Source{Location: srv.URL + "/models.json", CacheDir: t.TempDir(), Now: clk.now}
	ctx := context.Background()

	r, err := src.Load(ctx)
	if err != nil || r.FromCache || len(r.Index.Models) != 3 {
		t.Fatalf("first load: %+v, %v", r, err)
	}
	// Fresh cache: no request at all.
	clk.t = clk.t.Add(time.Minute)
	if r, err = src.Load(ctx); err != nil || !r.FromCache || r.Revalidated {
		t.Fatalf("fresh load: %+v, %v", r, err)
	}
	if full, n304 := srv.counts(); full != 1 || n304 != 0 {
		t.Fatalf("after fresh load: full=%d 304=%d, want 1 0", full, n304)
	}
	// Stale cache: a conditional GET that answers 304 and downloads nothing.
	clk.t = clk.t.Add(time.Hour)
	if r, err = src.Load(ctx); err != nil || !r.FromCache || !r.Revalidated {
		t.Fatalf("stale load: %+v, %v", r, err)
	}
	if full, n304 := srv.counts(); full != 1 || n304 != 1 {
		t.Fatalf("after revalidation: full=%d 304=%d, want 1 1", full, n304)
	}
	if got := srv.ifNoneMatch[len(srv.ifNoneMatch)-1]; got != `"v1"` {
		t.Errorf("If-None-Match = %q", got)
	}
	// The 304 renewed the cache's age: the next load asks nothing.
	clk.t = clk.t.Add(time.Minute)
	src.Load(ctx)
	// --refresh revalidates even a fresh cache.
	src.Refresh = true
	if r, err = src.Load(ctx); err != nil || !r.Revalidated {
		t.Fatalf("refresh: %+v, %v", r, err)
	}
	if full, n304 := srv.counts(); full != 1 || n304 != 2 {
		t.Fatalf("after refresh: full=%d 304=%d, want 1 2", full, n304)
	}
}

func TestSourceOffline(t *testing.T) {
	srv := newCountingServer(t)
	src := &Source{Location: srv.URL + "/models.json", CacheDir: t.TempDir(), Offline: true}
	_, err := src.Load(context.Background())
	if !errors.Is(err, ErrNoCache) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("offline without cache: %v", err)
	}
	src.Offline = false
	if _, err := src.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.Offline, src.MaxAge = true, time.Nanosecond
	r, err := src.Load(context.Background())
	if err != nil || !r.FromCache || len(r.Warnings) != 0 {
		t.Fatalf("offline with stale cache: %+v, %v", r, err)
	}
	if full, n304 := srv.counts(); full != 1 || n304 != 0 {
		t.Errorf("offline touched the network: full=%d 304=%d", full, n304)
	}
}

func TestSourceFallsBackToCache(t *testing.T) {
	srv := newCountingServer(t)
	clk := &clock{time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	src := &Source{Location: srv.URL + "/models.json", CacheDir: t.TempDir(), Now: clk.now}
	if _, err := src.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(3 * time.Hour)
	srv.Close()
	r, err := src.Load(context.Background())
	if err != nil || !r.FromCache {
		t.Fatalf("fallback: %+v, %v", r, err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "cached index from 3 hours ago") || !strings.Contains(r.Warnings[0], srv.URL) {
		t.Errorf("warning %q", r.Warnings)
	}
}

func TestSourceServerErrorFallsBack(t *testing.T) {
	srv := newCountingServer(t)
	src := &Source{Location: srv.URL + "/models.json", CacheDir: t.TempDir(), Refresh: true}
	if _, err := src.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.status = http.StatusBadGateway
	srv.mu.Unlock()
	r, err := src.Load(context.Background())
	if err != nil || !r.FromCache || !strings.Contains(r.Warnings[0], "502") {
		t.Fatalf("502 fallback: %+v, %v", r, err)
	}
}

func TestSourceNoCacheNoNetwork(t *testing.T) {
	srv := newCountingServer(t)
	url := srv.URL + "/models.json"
	srv.Close()
	_, err := (&Source{Location: url, CacheDir: t.TempDir()}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "--index") {
		t.Fatalf("got %v, want an error naming the URL and --index", err)
	}
}

func TestSourceTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	done := make(chan error, 1)
	go func() {
		_, err := (&Source{Location: srv.URL + "/m.json", CacheDir: t.TempDir(), RequestTimeout: 200 * time.Millisecond}).Load(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a server that never answers gave no error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Load hung on a server that never answers")
	}
}

func TestSourceLocalFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "models.json")
	os.WriteFile(p, []byte(sample), 0o644)
	for _, loc := range []string{p, "file://" + filepath.ToSlash(p)} {
		r, err := (&Source{Location: loc}).Load(context.Background())
		if err != nil || len(r.Index.Models) != 3 {
			t.Errorf("%s: %+v, %v", loc, r, err)
		}
	}
	_, err := (&Source{Location: filepath.Join(dir, "nope.json")}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nope.json") || !strings.Contains(err.Error(), "--index") {
		t.Errorf("missing file: %v", err)
	}
	// a folder, or a URL scheme we do not fetch, names itself and --index
	// (they were "read index: read DIR: is a directory", "index file ftp://x does not exist")
	for loc, want := range map[string]string{
		dir:                            "read index " + dir + ": ",
		"ftp://example.invalid/m.json": "index ftp://example.invalid/m.json is not an http(s) URL, a file:// URL or an existing file",
	} {
		_, err := (&Source{Location: loc}).Load(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "(check --index or MODELHUB_INDEX") {
			t.Errorf("%s: %v, want %q and a hint", loc, err, want)
		}
	}
}

func TestSourceDamagedCacheIsRefetched(t *testing.T) {
	srv := newCountingServer(t)
	src := &Source{Location: srv.URL + "/models.json", CacheDir: t.TempDir()}
	if _, err := src.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	dp, _ := src.cachePaths()
	os.WriteFile(dp, []byte("[{broken"), 0o644)
	r, err := src.Load(context.Background())
	if err != nil || r.FromCache {
		t.Fatalf("damaged cache: %+v, %v", r, err)
	}
	if full, _ := srv.counts(); full != 2 {
		t.Errorf("full downloads = %d, want 2", full)
	}
}

// file:// URLs become paths by each platform's rules, whatever platform runs
// the test.
func TestFileURLPath(t *testing.T) {
	for _, tc := range []struct {
		url     string
		windows bool
		want    string
	}{
		{"file:///C:/path/models.json", true, `C:\path\models.json`},
		{"file:///c:/My%20Models/models.json", true, `c:\My Models\models.json`},
		{"file://localhost/C:/path/models.json", true, `C:\path\models.json`},
		{"file://C:/path/models.json", true, `C:\path\models.json`},
		{"file://server/share/models.json", true, `\\server\share\models.json`},
		{"file:///home/me/models.json", true, `\home\me\models.json`},
		{"file:///home/me/models.json", false, "/home/me/models.json"},
		{"file://localhost/srv/models.json", false, "/srv/models.json"},
		{"file:///C:/path/models.json", false, "/C:/path/models.json"},
		{"file:///tmp/a%20b.json", false, "/tmp/a b.json"},
	} {
		got, err := FileURLPath(tc.url, tc.windows)
		if err != nil || got != tc.want {
			t.Errorf("FileURLPath(%q, windows=%v) = %q, %v; want %q", tc.url, tc.windows, got, err, tc.want)
		}
	}
	if _, err := FileURLPath("file://server/models.json", false); err == nil || !strings.Contains(err.Error(), "file:///PATH") {
		t.Errorf("a host on Unix: %v", err)
	}
}
