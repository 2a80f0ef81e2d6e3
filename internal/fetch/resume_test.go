package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The file changes on the server between two attempts: whatever validators
// the server sends, the result is the new version whole, never the first
// bytes of one version followed by the rest of the other.
func TestDownload_fileChangesBetweenAttempts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault testutil.Fault
		// resume: the second request asks for a range (with If-Range).
		resume bool
	}{
		{"strong etag", testutil.Fault{}, true},
		{"last-modified only", testutil.Fault{NoETag: true}, true},
		{"weak etag", testutil.Fault{WeakETag: true}, false},
		{"no validators", testutil.Fault{NoValidators: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.NewFileServer(t)
			v1, v2 := testutil.NewPattern(600_000, 21), testutil.NewPattern(600_000, 22)
			url := srv.Add("/w", v1)
			f := tc.fault
			f.CutAfter, f.CutTimes = 250_000, 1
			srv.SetFault("/w", f)
			dest := filepath.Join(t.TempDir(), "w")
			d := fastDownloader()
			var once sync.Once
			d.Progress = func(e Event) {
				if e.Kind == FileRetry {
					once.Do(func() { srv.Replace("/w", v2) })
				}
			}
			if _, err := d.Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
				t.Fatal(err)
			}
			if h := readHash(t, dest); h != testutil.SHA256(v2) {
				t.Fatalf("hash %s, want the new version whole (%s); old version %s", h, testutil.SHA256(v2), testutil.SHA256(v1))
			}
			reqs := srv.Requests("/w")
			if len(reqs) != 2 {
				t.Fatalf("requests %+v, want 2", reqs)
			}
			if tc.resume {
				if reqs[1].Range != "bytes=250000-" || reqs[1].IfRange == "" || reqs[1].Status != 200 {
					t.Errorf("second request %+v, want a Range with If-Range answered 200 (the file changed)", reqs[1])
				}
			} else if reqs[1].Range != "" || reqs[1].IfRange != "" {
				t.Errorf("second request %+v, want a plain GET (no strong validator to resume with)", reqs[1])
			}
		})
	}
}

// A resume with only Last-Modified sends it as If-Range and continues.
func TestDownload_resumeWithLastModified(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(500_000, 23)
	url := srv.Add("/w", c)
	srv.SetFault("/w", testutil.Fault{NoETag: true, CutAfter: 123_457, CutTimes: 1})
	dest := filepath.Join(t.TempDir(), "w")
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests("/w")
	if len(r) != 2 || r[1].Range != "bytes=123457-" || !strings.HasSuffix(r[1].IfRange, "GMT") || r[1].Status != 206 {
		t.Errorf("requests %+v, want a resume with a date If-Range answered 206", r)
	}
}

// A server (or cache) that ignores If-Range answers 206 with bytes of the new
// version: the 206's validator differs from the one sent, so the file starts
// over from zero.
func TestDownload_mismatched206Restarts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault testutil.Fault
	}{
		{"etag", testutil.Fault{}},
		{"last-modified", testutil.Fault{NoETag: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.NewFileServer(t)
			v1, v2 := testutil.NewPattern(400_000, 24), testutil.NewPattern(400_000, 25)
			url := srv.Add("/w", v1)
			f := tc.fault
			f.CutAfter, f.CutTimes, f.IgnoreIfRange = 100_000, 1, true
			srv.SetFault("/w", f)
			dest := filepath.Join(t.TempDir(), "w")
			d := fastDownloader()
			var once sync.Once
			var retries []error
			d.Progress = func(e Event) {
				if e.Kind == FileRetry {
					retries = append(retries, e.Err)
					once.Do(func() { srv.Replace("/w", v2) })
				}
			}
			if _, err := d.Fetch(context.Background(), File{URL: url, Dest: dest}); err != nil {
				t.Fatal(err)
			}
			if h := readHash(t, dest); h != testutil.SHA256(v2) {
				t.Fatalf("hash %s, want the new version whole", h)
			}
			r := srv.Requests("/w")
			if len(r) != 3 || r[1].Status != 206 || r[2].Range != "" {
				t.Errorf("requests %+v, want a 206 of the new version refused, then a plain GET", r)
			}
			if len(retries) != 2 || !strings.Contains(retries[1].Error(), "another version") {
				t.Errorf("retry errors %v, want the second to name another version", retries)
			}
		})
	}
}

// 206 answers that do not prove the continuation of the bytes on disk are
// refused: the file starts over with a plain GET.
func TestDownload_bad206Restarts(t *testing.T) {
	t.Parallel()
	body := []byte("0123456789abcdefghij")
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no etag", map[string]string{"Content-Range": "bytes 5-19/20"}},
		{"other etag", map[string]string{"ETag": `"v2"`, "Content-Range": "bytes 5-19/20"}},
		{"weak form of the etag", map[string]string{"ETag": `W/"v1"`, "Content-Range": "bytes 5-19/20"}},
		{"wrong start", map[string]string{"ETag": `"v1"`, "Content-Range": "bytes 4-19/20"}},
		{"other size", map[string]string{"ETag": `"v1"`, "Content-Range": "bytes 5-20/21"}},
		{"no content-range", map[string]string{"ETag": `"v1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var ranges []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range")+"|"+r.Header.Get("If-Range"))
				mu.Unlock()
				if r.Header.Get("Range") != "" {
					for k, v := range tc.hdr {
						w.Header().Set(k, v)
					}
					w.WriteHeader(http.StatusPartialContent)
					w.Write([]byte("XXXXXXXXXXXXXXX"))
					return
				}
				w.Header().Set("ETag", `"v2"`)
				w.Write(body)
			}))
			t.Cleanup(srv.Close)
			dest := filepath.Join(t.TempDir(), "w")
			os.WriteFile(PartPath(dest), body[:5], 0o644)
			writeSidecar(sidecarPath(dest), sidecar{URL: srv.URL, ETag: `"v1"`, IfRange: `"v1"`, Size: 20})
			if _, err := fastDownloader().Fetch(context.Background(), File{URL: srv.URL, Dest: dest, SHA256: testutil.HashBytes(body)}); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(dest); string(got) != string(body) {
				t.Errorf("content %q, want %q", got, body)
			}
			if len(ranges) != 2 || ranges[0] != `bytes=5-|"v1"` || ranges[1] != "|" {
				t.Errorf("requests (Range|If-Range) %q, want a resume then a plain GET", ranges)
			}
		})
	}
}

// A .part whose sidecar has no strong validator (or an older sidecar format)
// is not resumed.
func TestDownload_partWithoutValidatorStartsOver(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	c := testutil.NewPattern(100_000, 26)
	url := srv.Add("/w", c)
	dest := filepath.Join(t.TempDir(), "w")
	os.WriteFile(PartPath(dest), []byte("stale bytes"), 0o644)
	writeSidecar(sidecarPath(dest), sidecar{URL: url, ETag: `W/"x"`, Size: 100_000})
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, SHA256: testutil.SHA256(c)}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests("/w"); len(r) != 1 || r[0].Range != "" {
		t.Errorf("requests %+v, want one plain GET", r)
	}
}

func TestStrongValidator(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"strong etag", map[string]string{"ETag": `"abc"`}, `"abc"`},
		{"etag wins over date", map[string]string{"ETag": `"abc"`, "Last-Modified": date(now.Add(-time.Hour)), "Date": date(now)}, `"abc"`},
		{"weak etag", map[string]string{"ETag": `W/"abc"`}, ""},
		{"weak etag, no date fallback", map[string]string{"ETag": `W/"abc"`, "Last-Modified": date(now.Add(-time.Hour)), "Date": date(now)}, ""},
		{"unquoted etag", map[string]string{"ETag": `abc`}, ""},
		{"old last-modified", map[string]string{"Last-Modified": date(now.Add(-time.Hour)), "Date": date(now)}, date(now.Add(-time.Hour))},
		{"last-modified just now", map[string]string{"Last-Modified": date(now.Add(-time.Second)), "Date": date(now)}, ""},
		{"last-modified without date", map[string]string{"Last-Modified": date(now.Add(-time.Hour))}, ""},
		{"bad last-modified", map[string]string{"Last-Modified": "yesterday", "Date": date(now)}, ""},
		{"nothing", nil, ""},
	} {
		h := http.Header{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if got := strongValidator(h); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 10-99/100", 10, 99, 100, true},
		{"bytes 0-0/*", 0, 0, -1, true},
		{"bytes */100", -1, -1, 100, true},
		{"bytes */*", -1, -1, -1, false},
		{"items 1-2/3", -1, -1, -1, false},
		{"bytes x-1/2", -1, -1, 2, false},
		{"bytes +5-9/10", -1, -1, 10, false},
		{"bytes -5-9/10", -1, -1, 10, false},
		{"bytes 9-5/10", -1, -1, 10, false},
		{"bytes 5-10/10", -1, -1, 10, false},
		{"bytes 5-9/+10", -1, -1, -1, false},
		{"bytes 5-9/99999999999999999999", -1, -1, -1, false},
	} {
		f, l, tot, ok := parseContentRange(tc.in)
		if f != tc.first || l != tc.last || tot != tc.total || ok != tc.ok {
			t.Errorf("%q: %d %d %d %v, want %d %d %d %v", tc.in, f, l, tot, ok, tc.first, tc.last, tc.total, tc.ok)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 7 ":                           7 * time.Second,
		"-3":                            0,
		"+3":                            0,
		"1.5":                           0,
		"99999999999999999999":          0,
		"9223372036854775807":           maxRetryAfter,
		"86400":                         maxRetryAfter,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // in the past
		"soon":                          0,
	} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := parseRetryAfter(future); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("%q: %v, want about 90s", future, got)
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 10-99/100", "bytes */100", "bytes 0-0/*", "bytes 5-9/+10", "bytes --/-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		first, last, total, ok := parseContentRange(v)
		if !ok {
			return
		}
		if total < -1 || (first < 0) != (last < 0) || first > last || (total >= 0 && last >= total) || (first < 0 && total < 0) {
			t.Fatalf("%q: accepted first %d last %d total %d", v, first, last, total)
		}
		// What was accepted prints back to a value that parses the same.
		canon := "bytes *"
		if first >= 0 {
			canon = fmt.Sprintf("bytes %d-%d", first, last)
		}
		if total < 0 {
			canon += "/*"
		} else {
			canon += fmt.Sprintf("/%d", total)
		}
		f2, l2, t2, ok2 := parseContentRange(canon)
		if !ok2 || f2 != first || l2 != last || t2 != total {
			t.Fatalf("%q accepted as %q, which parses as %d %d %d %v", v, canon, f2, l2, t2, ok2)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "9223372036854775807", "Sun, 06 Nov 2094 08:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v); d < 0 || d > maxRetryAfter {
			t.Fatalf("%q: %v, want within [0, %v]", v, d, maxRetryAfter)
		}
	})
}

// A redirect loop, or a redirect to file:// (or any non-http(s) URL), fails at
// once with one request chain: it is not retried as if transient.
func TestDownload_badRedirectFailsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, want string
		setup            func(srv *testutil.FileServer)
	}{
		{"loop", "/a", "more than 10 redirects (a redirect loop)", func(srv *testutil.FileServer) {
			srv.Redirect("/a", "/b")
			srv.Redirect("/b", "/a")
		}},
		{"file", "/f", "redirected to file:///etc/passwd: only http and https are followed", func(srv *testutil.FileServer) {
			srv.Redirect("/f", "file:///etc/passwd")
		}},
		{"ftp", "/g", "redirected to ftp://127.0.0.1/w: only http and https are followed", func(srv *testutil.FileServer) {
			srv.Redirect("/g", "ftp://127.0.0.1/w")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.NewFileServer(t)
			tc.setup(srv)
			d := fastDownloader()
			retries := 0
			d.Progress = func(e Event) {
				if e.Kind == FileRetry {
					retries++
				}
			}
			dest := filepath.Join(t.TempDir(), "w")
			_, err := d.Fetch(context.Background(), File{URL: srv.URL + tc.from, Dest: dest})
			var re *RedirectError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL+tc.from) {
				t.Fatalf("err %v, want a RedirectError saying %q", err, tc.want)
			}
			if retries != 0 || srv.Count("") > MaxRedirects+1 {
				t.Errorf("%d retries, %d requests: want no retry", retries, srv.Count(""))
			}
			noFile(t, dest)
		})
	}
}
