package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// fastDownloader returns a Downloader with test-sized timings.
func fastDownloader() *Downloader {
	return &Downloader{Timeouts: Timeouts{
		// Long enough that a loaded machine does not add a stall retry to
		// tests that count requests; the stall test sets its own.
		Stall:       10 * time.Second,
		RetryBase:   5 * time.Millisecond,
		RetryMax:    20 * time.Millisecond,
		MaxAttempts: 4,
	}}
}

func readHash(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.HashBytes(data)
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v), want it absent", path, err)
	}
}

func TestDownload_simple(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(3<<20+17, 1)
	url := srv.Add("/w.bin", c)
	dest := filepath.Join(t.TempDir(), "sub", "w.bin")

	var mu sync.Mutex
	var kinds []EventKind
	var got int64
	d := fastDownloader()
	d.Progress = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind != FileBytes || len(kinds) == 0 || kinds[len(kinds)-1] != FileBytes {
			kinds = append(kinds, e.Kind)
		}
		if e.Kind == FileBytes {
			got += e.Bytes
		}
		if e.Kind == FileStart && e.Size != c.Size() {
			t.Errorf("start size %d, want %d", e.Size, c.Size())
		}
	}
	want := testutil.SHA256(c)
	res, err := d.Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: strings.ToUpper(want)})
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != want || res.Size != c.Size() || res.ETag == "" {
		t.Errorf("result %+v, want sha %s size %d and an etag", res, want, c.Size())
	}
	if h := readHash(t, dest); h != want {
		t.Errorf("file hash %s, want %s", h, want)
	}
	if got != c.Size() {
		t.Errorf("progress counted %d bytes, want %d", got, c.Size())
	}
	if len(kinds) != 3 || kinds[0] != FileStart || kinds[1] != FileBytes || kinds[2] != FileDone {
		t.Errorf("event kinds %v, want start, bytes, done", kinds)
	}
	noFile(t, PartPath(dest))
	noFile(t, sidecarPath(dest))
}

// A cut connection is resumed with a Range request, and the result hashes right.
func TestDownload_resumeAfterCut(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(2<<20, 2)
	url := srv.Add("/w.bin", c)
	srv.SetFault("/w.bin", testutil.Fault{CutAfter: 700_001, CutTimes: 1})
	dest := filepath.Join(t.TempDir(), "w.bin")

	res, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)})
	if err != nil {
		t.Fatal(err)
	}
	if h := readHash(t, dest); h != testutil.SHA256(c) || res.SHA256 != h {
		t.Errorf("hash %s (result %s), want %s", h, res.SHA256, testutil.SHA256(c))
	}
	reqs := srv.Requests("/w.bin")
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want 2", reqs)
	}
	if reqs[1].Range != "bytes=700001-" || reqs[1].IfRange == "" || reqs[1].Status != 206 {
		t.Errorf("second request %+v, want Range bytes=700001- with If-Range answered 206", reqs[1])
	}
	if reqs[0].Bytes+reqs[1].Bytes != c.Size() {
		t.Errorf("served %d+%d bytes, want %d in total", reqs[0].Bytes, reqs[1].Bytes, c.Size())
	}
}

// A .part left by an earlier (cancelled) run is continued by the next run.
func TestDownload_resumeAcrossRuns(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(4<<20, 3)
	url := srv.Add("/w.bin", c)
	srv.SetFault("/w.bin", testutil.Fault{RateLimit: 4 << 20})
	dest := filepath.Join(t.TempDir(), "w.bin")

	ctx, cancel := context.WithCancel(context.Background())
	d := fastDownloader()
	var once sync.Once
	var cancelled time.Time
	d.Progress = func(e Event) {
		if e.Kind == FileBytes {
			once.Do(func() {
				time.AfterFunc(200*time.Millisecond, func() { cancelled = time.Now(); cancel() })
			})
		}
	}
	_, err := d.Fetch(ctx, File{URL: url, Dest: dest})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if el := time.Since(cancelled); el > time.Second {
		t.Errorf("cancel took %s to stop the download, want < 1s", el)
	}
	fi, err := os.Stat(PartPath(dest))
	if err != nil || fi.Size() == 0 || fi.Size() >= c.Size() {
		t.Fatalf("part file after cancel: %v, %v; want partial bytes kept", fi, err)
	}
	noFile(t, dest)
	kept := fi.Size()

	srv.SetFault("/w.bin", testutil.Fault{})
	var offset int64 = -1
	d2 := fastDownloader()
	d2.Progress = func(e Event) {
		if e.Kind == FileStart {
			offset = e.Offset
		}
	}
	if _, err := d2.Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	if offset != kept {
		t.Errorf("resumed at %d, want %d", offset, kept)
	}
	if len(srv.RangeRequests("/w.bin")) != 1 {
		t.Errorf("range requests %+v, want one", srv.RangeRequests("/w.bin"))
	}
	if h := readHash(t, dest); h != testutil.SHA256(c) {
		t.Errorf("hash %s, want %s", h, testutil.SHA256(c))
	}
}

func TestDownload_retry503Once(t *testing.T) {
	t.Parallel()
	for _, status := range []int{503, 429} {
		srv := testutil.NewFileServer(t)
		data := []byte("weights")
		url := srv.AddBytes("/w", data)
		srv.SetFault("/w", testutil.Fault{Status: status, StatusTimes: 1})
		dest := filepath.Join(t.TempDir(), "w")
		var retries int
		d := fastDownloader()
		d.Progress = func(e Event) {
			if e.Kind == FileRetry {
				retries++
			}
		}
		if _, err := d.Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if got, _ := os.ReadFile(dest); string(got) != "weights" || retries != 1 || srv.Count("/w") != 2 {
			t.Errorf("status %d: content %q retries %d requests %d, want weights/1/2", status, got, retries, srv.Count("/w"))
		}
	}
}

func TestDownload_5xxForeverGivesUp(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.AddBytes("/w", []byte("x"))
	srv.SetFault("/w", testutil.Fault{Status: 502, StatusTimes: 1000})
	dest := filepath.Join(t.TempDir(), "w")
	_, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 502 || !strings.Contains(err.Error(), "giving up after 4 attempts") {
		t.Fatalf("err %v, want HTTP 502 after 4 attempts", err)
	}
	noFile(t, dest)
}

// A server that ignores Range gets a clean restart and the file is right.
func TestDownload_ignoreRangeRestarts(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(1<<20, 4)
	url := srv.Add("/w.bin", c)
	srv.SetFault("/w.bin", testutil.Fault{CutAfter: 300_000, CutTimes: 1, IgnoreRange: true})
	dest := filepath.Join(t.TempDir(), "w.bin")
	var discarded int64
	d := fastDownloader()
	d.Progress = func(e Event) {
		if e.Kind == FileBytes && e.Bytes < 0 {
			discarded += -e.Bytes
		}
	}
	if _, err := d.Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests("/w.bin")
	if len(reqs) != 2 || reqs[1].Range == "" || reqs[1].Status != 200 {
		t.Errorf("requests %+v, want a Range request answered 200", reqs)
	}
	if discarded != 300_000 {
		t.Errorf("progress discarded %d bytes, want 300000", discarded)
	}
	if h := readHash(t, dest); h != testutil.SHA256(c) {
		t.Errorf("hash %s, want %s", h, testutil.SHA256(c))
	}
}

// A .part whose file changed on the server (ETag differs) restarts cleanly.
func TestDownload_changedFileRestarts(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	dest := filepath.Join(t.TempDir(), "w.bin")
	url := srv.AddBytes("/w.bin", []byte("new content, longer than before"))
	os.WriteFile(PartPath(dest), []byte("old co"), 0o644)
	writeSidecar(sidecarPath(dest), sidecar{URL: url, ETag: `"old"`, IfRange: `"old"`, Size: 11})
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "new content, longer than before" {
		t.Errorf("content %q", got)
	}
	if r := srv.Requests("/w.bin"); len(r) != 1 || r[0].IfRange != `"old"` || r[0].Status != 200 {
		t.Errorf("requests %+v, want one If-Range request answered 200", r)
	}
}

// A .part that is already complete (killed before the rename) is finished
// without downloading it again (the server answers 416).
func TestDownload_completePart(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	data := []byte("all of it")
	url := srv.AddBytes("/w", data)
	dest := filepath.Join(t.TempDir(), "w")
	os.WriteFile(PartPath(dest), data, 0o644)
	// learn the server's ETag with a first download elsewhere
	res, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest + "-probe"})
	if err != nil {
		t.Fatal(err)
	}
	writeSidecar(sidecarPath(dest), sidecar{URL: url, ETag: res.ETag, IfRange: res.ETag, Size: int64(len(data))})
	res, err = fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.HashBytes(data)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "all of it" || res.Size != int64(len(data)) {
		t.Errorf("content %q size %d", got, res.Size)
	}
	if r := srv.Requests("/w"); len(r) != 2 || r[1].Range != "bytes=9-" || r[1].Status != 416 {
		t.Errorf("requests %+v, want the second a Range request answered 416", r)
	}
}

func TestDownload_redirect(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	srv.AddBytes("/cdn/w", []byte("from the cdn"))
	url := srv.Redirect("/release/w", "/cdn/w")
	dest := filepath.Join(t.TempDir(), "w")
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "from the cdn" {
		t.Errorf("content %q", got)
	}
	if srv.Count("/release/w") != 1 || srv.Count("/cdn/w") != 1 {
		t.Errorf("requests %+v", srv.Requests(""))
	}
}

// Resuming through a redirect keeps the Range and If-Range headers.
func TestDownload_redirectResume(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(600_000, 8)
	srv.Add("/cdn/w", c)
	srv.SetFault("/cdn/w", testutil.Fault{CutAfter: 250_000, CutTimes: 1})
	url := srv.Redirect("/release/w", "/cdn/w")
	dest := filepath.Join(t.TempDir(), "w")
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	if rr := srv.RangeRequests("/cdn/w"); len(rr) != 1 || rr[0].Range != "bytes=250000-" || rr[0].IfRange == "" || rr[0].Status != 206 {
		t.Errorf("range requests at the CDN %+v, want one resuming at 250000", rr)
	}
}

func TestDownload_404FailsAtOnce(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.URL + "/missing.bin"
	dest := filepath.Join(t.TempDir(), "w")
	retries := 0
	d := fastDownloader()
	d.Progress = func(e Event) {
		if e.Kind == FileRetry {
			retries++
		}
	}
	_, err := d.Fetch(context.Background(), File{URL: url, Dest: dest})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("err %v, want HTTPError 404", err)
	}
	if !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "404") {
		t.Errorf("message %q does not name the URL and status", err)
	}
	if srv.Count("") != 1 || retries != 0 {
		t.Errorf("%d requests and %d retries, want one request and no retry", srv.Count(""), retries)
	}
	noFile(t, dest)
}

func TestDownload_shaMismatch(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.AddBytes("/w", []byte("tampered"))
	dest := filepath.Join(t.TempDir(), "w")
	_, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.HashBytes([]byte("original"))})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err %v, want ErrChecksum", err)
	}
	if !strings.Contains(err.Error(), testutil.HashBytes([]byte("tampered"))) {
		t.Errorf("message %q does not show the hash got", err)
	}
	noFile(t, dest)
	noFile(t, PartPath(dest))
	if srv.Count("/w") != 1 {
		t.Errorf("%d requests, want 1 (a checksum mismatch is not retried)", srv.Count("/w"))
	}
}

// A server that stops sending is detected by the watchdog and resumed.
func TestDownload_stallRetried(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(500_000, 5)
	url := srv.Add("/w", c)
	srv.SetFault("/w", testutil.Fault{StallAfter: 100_000, StallTimes: 1})
	dest := filepath.Join(t.TempDir(), "w")
	var retryErr error
	d := fastDownloader()
	d.Stall = 300 * time.Millisecond
	d.Progress = func(e Event) {
		if e.Kind == FileRetry {
			retryErr = e.Err
		}
	}
	if _, err := d.Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(retryErr, ErrStalled) {
		t.Errorf("retry error %v, want ErrStalled", retryErr)
	}
	if r := srv.Requests("/w"); len(r) != 2 || r[1].Range != "bytes=100000-" {
		t.Errorf("requests %+v, want a resume at 100000", r)
	}
}

// Without ETag/Last-Modified a .part cannot be validated and starts over.
func TestDownload_noValidatorsStartOver(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(200_000, 6)
	url := srv.Add("/w", c)
	srv.SetFault("/w", testutil.Fault{NoValidators: true})
	dest := filepath.Join(t.TempDir(), "w")
	os.WriteFile(PartPath(dest), []byte("garbage"), 0o644)
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests("/w"); len(r) != 1 || r[0].Range != "" {
		t.Errorf("requests %+v, want one plain GET", r)
	}
}

// Download runs files in parallel up to Jobs and returns results in order.
func TestDownload_parallel(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	dir := t.TempDir()
	var files []File
	var want []string
	for i := range 6 {
		c := testutil.NewPattern(int64(100_000+i), uint64(10+i))
		p := "/f" + string(rune('a'+i))
		srv.Add(p, c)
		srv.SetFault(p, testutil.Fault{RateLimit: 1 << 20})
		files = append(files, File{URL: srv.URL + p, Dest: filepath.Join(dir, p[1:])})
		want = append(want, testutil.SHA256(c))
	}
	d := fastDownloader()
	d.Jobs = 3
	res, err := d.Download(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.SHA256 != want[i] || readHash(t, files[i].Dest) != want[i] {
			t.Errorf("file %d: result %s, want %s", i, r.SHA256, want[i])
		}
	}
	if m := srv.MaxConcurrent(); m != 3 {
		t.Errorf("max parallel downloads %d, want 3", m)
	}
}

// One failing file stops the batch with its error, not a context error.
func TestDownload_batchError(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	dir := t.TempDir()
	srv.Add("/slow", testutil.NewPattern(1<<20, 7))
	srv.SetFault("/slow", testutil.Fault{RateLimit: 1 << 20})
	files := []File{
		{URL: srv.URL + "/slow", Dest: filepath.Join(dir, "slow")},
		{URL: srv.URL + "/gone", Dest: filepath.Join(dir, "gone")},
	}
	_, err := fastDownloader().Download(context.Background(), files)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("err %v, want the 404", err)
	}
	noFile(t, files[0].Dest) // stopped, not finished
	if _, err := os.Stat(PartPath(files[0].Dest)); err != nil {
		t.Errorf("part of the stopped download: %v, want kept", err)
	}
}

// writeSidecar writes the sidecar of a .part file as an earlier run would have.
func writeSidecar(path string, m sidecar) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
