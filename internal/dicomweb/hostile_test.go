package dicomweb

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// serveJSON answers every GET with body as DICOM JSON (POSTs too).
func serveJSON(t *testing.T, status int, body func(r *http.Request) string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/dicom+json")
		w.WriteHeader(status)
		fmt.Fprint(w, body(r))
	}))
	t.Cleanup(srv.Close)
	return client(t, srv.URL+"/dicom-web", alice)
}

// A server that echoes the credentials (in the status line, a content
// type, an error page) never gets them into an error.
func TestCredentialsEchoed(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	for _, tc := range []struct {
		name string
		auth Auth
		h    http.HandlerFunc
	}{
		{"status line, basic", alice, func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			fmt.Fprintf(conn, "HTTP/1.1 500 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.Header.Get("Authorization"))
			conn.Close()
		}},
		{"status line, token", Auth{Token: "tok-9f8e7d", From: EnvToken}, func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			fmt.Fprintf(conn, "HTTP/1.1 502 bad %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.Header.Get("Authorization"))
			conn.Close()
		}},
		{"malformed status line", alice, func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			fmt.Fprintf(conn, "HTTP/1.1 %s s3cret\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.Header.Get("Authorization"))
			conn.Close()
		}},
		{"redirect with them in the URL", alice, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://alice:s3cret@127.0.0.2:1/x?auth="+r.Header.Get("Authorization"), http.StatusFound)
		}},
		{"content type", alice, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/series") {
				fmt.Fprintf(w, `[{"0020000E":{"vr":"UI","Value":["1.2.3"]},"00201209":{"vr":"IS","Value":[1]}}]`)
				return
			}
			w.Header().Set("Content-Type", "text/plain; you-sent="+strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")+"; pw=s3cret")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			c := client(t, srv.URL+"/dicom-web", tc.auth)
			_, err1 := c.Studies(context.Background(), false)
			_, err2 := c.FetchStudy(context.Background(), study, t.TempDir(), FetchOptions{})
			if err2 == nil {
				t.Fatal("no error")
			}
			for _, err := range []error{err1, err2} {
				if err == nil {
					continue
				}
				if msg := err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, b64) || strings.Contains(msg, "tok-9f8e7d") {
					t.Errorf("credentials in %q", msg)
				}
			}
		})
	}
}

// QIDO answers that are too large, too deep or of the wrong types fail
// with one line; UIDs that are no UIDs never become a path or a URL.
func TestHostileQIDO(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"huge", "[" + strings.Repeat(`{"00080018":{"vr":"UI","Value":["1.2"]}},`, 50000) + "{}]", "more than 1 MiB of JSON"},
		{"deep", strings.Repeat("[", 200000) + strings.Repeat("]", 200000), "sent no DICOM JSON"},
		{"wrong types", `[{"0020000D":{"vr":"UI","Value":"1.2.3"}}]`, "sent no DICOM JSON"},
		{"not an array", `{"0020000D":{"vr":"UI","Value":["1.2.3"]}}`, "sent no DICOM JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serveJSON(t, 200, func(*http.Request) string { return tc.body })
			c.Limits.JSON = 1 << 20
			_, err := c.Studies(context.Background(), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// values of the wrong type inside an element are empty, not a crash
	c := serveJSON(t, 200, func(*http.Request) string {
		return `[{"0020000D":{"vr":"UI","Value":[{"x":[1,2]}]},"00201206":{"vr":"IS","Value":["many"]},"00080061":{"vr":"CS","Value":[null,7,true]}}]`
	})
	if st, err := c.Studies(context.Background(), false); err != nil || len(st) != 1 || st[0].UID != "" || st[0].Series != 0 {
		t.Fatalf("wrong types: %+v %v", st, err)
	}

	// series and instance UIDs that would leave the folder or forge a URL
	parent := t.TempDir()
	dest := filepath.Join(parent, "study")
	for _, uid := range []string{"../../escape", "1.2/../../x", "/etc/passwd", "1.2\x00.3", "1.2\x1b[31m", strings.Repeat("1", 65), "1.2.3?x=1", "1..2", ""} {
		for _, level := range []string{"series", "instance"} {
			c := serveJSON(t, 200, func(r *http.Request) string {
				if strings.HasSuffix(r.URL.Path, "/series") {
					s := uid
					if level == "instance" {
						s = "1.2.3"
					}
					// no instance count: the instance list is asked for
					return fmt.Sprintf(`[{"0020000E":{"vr":"UI","Value":[%s]},"00080060":{"vr":"CS","Value":["CT"]}}]`, jsonString(s))
				}
				return fmt.Sprintf(`[{"00080018":{"vr":"UI","Value":[%s]}}]`, jsonString(uid))
			})
			_, err := c.FetchStudy(context.Background(), study, dest, FetchOptions{})
			if err == nil || !strings.Contains(err.Error(), "not a UID, refused") || strings.ContainsAny(err.Error(), "\x00\x1b\n") {
				t.Errorf("%s UID %q: %v", level, uid, err)
			}
		}
	}
	names, _ := os.ReadDir(parent)
	if len(names) != 1 || names[0].Name() != "study" {
		t.Fatalf("written next to the study folder: %v", names)
	}
	inside := files(t, dest)
	if len(inside) != 0 {
		t.Fatalf("files written for a hostile UID: %v", inside)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A STOW answer that lies: success for instances not sent, a huge or
// non-JSON body. Only what names our instances counts.
func TestStowLies(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, in := range seriesInstances(t, study+".9", "SEG", 1) {
		p := filepath.Join(dir, in.SOP+".dcm")
		os.WriteFile(p, in.Data, 0o644)
		paths = append(paths, p)
	}
	other := `{"00081199":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["9.9.9"]}}]}}`
	c := serveJSON(t, 200, func(*http.Request) string { return other })
	got, err := c.Store(context.Background(), study, paths)
	if err != nil || len(got) != 1 || got[0].Accepted || !strings.Contains(got[0].Reason, "neither as stored nor as failed") {
		t.Fatalf("success for another instance: %+v %v", got, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"huge", `{"00081199":{"vr":"SQ","Value":[` + strings.Repeat(`{},`, 1<<19) + `{}]}}`, "answered more than 1 MiB to a store"},
		{"not JSON", "<html>stored \x1b[2J everything</html>", "sent no DICOM JSON"},
	} {
		c := serveJSON(t, 200, func(*http.Request) string { return tc.body })
		c.Limits.JSON = 1 << 20
		if _, err := c.Store(context.Background(), study, paths); err == nil || !strings.Contains(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\x1b\n") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// QIDO paging: a server that honours limit and offset but caps its pages
// (and says so with Warning: 299) is paged through to the end; one that
// ignores offset (or limit) gives its one answer, each study once, and is
// not asked forever; one that refuses the parameters (400) is asked once
// without them.
func TestQIDOPaging(t *testing.T) {
	const total, capped = 2500, 70
	studies := func(from, to int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := from; i < to; i++ {
			if i > from {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"0020000D":{"vr":"UI","Value":["1.2.%d"]}}`, i)
		}
		return b.String() + "]"
	}
	for _, tc := range []struct {
		name     string
		h        func(w http.ResponseWriter, limit, offset int, paged bool)
		want     int
		requests int
	}{
		{"capped with warning", func(w http.ResponseWriter, limit, offset int, _ bool) {
			end := min(offset+min(limit, capped), total)
			if end < total && limit > capped {
				w.Header().Set("Warning", `299 pacs: "There are more results"`)
			}
			fmt.Fprint(w, studies(min(offset, total), end))
		}, total, total/capped + 1},
		{"honours limit", func(w http.ResponseWriter, limit, offset int, _ bool) {
			fmt.Fprint(w, studies(min(offset, total), min(offset+limit, total)))
		}, total, 3},
		{"ignores offset", func(w http.ResponseWriter, limit, offset int, _ bool) {
			fmt.Fprint(w, studies(0, limit))
		}, 1000, 2},
		{"ignores both", func(w http.ResponseWriter, limit, offset int, _ bool) {
			fmt.Fprint(w, studies(0, total))
		}, total, 1},
		{"refuses paging", func(w http.ResponseWriter, limit, offset int, paged bool) {
			if paged {
				http.Error(w, "unknown parameter limit", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, studies(0, total))
		}, total, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests++
				q := r.URL.Query()
				limit, offset := 1<<30, 0
				fmt.Sscan(q.Get("limit"), &limit)
				fmt.Sscan(q.Get("offset"), &offset)
				tc.h(w, limit, offset, q.Has("limit"))
			}))
			defer srv.Close()
			c := client(t, srv.URL+"/dicom-web", Auth{})
			got, err := c.Studies(context.Background(), false)
			if err != nil || len(got) != tc.want || requests != tc.requests {
				t.Fatalf("%d studies in %d requests (%v), want %d in %d", len(got), requests, err, tc.want, tc.requests)
			}
		})
	}
	// all pages together are bounded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var offset int
		fmt.Sscan(r.URL.Query().Get("offset"), &offset)
		fmt.Fprint(w, studies(offset, offset+1000)) // endless
	}))
	defer srv.Close()
	c := client(t, srv.URL+"/dicom-web", Auth{})
	c.Limits.JSON = 1 << 20
	if _, err := c.Studies(context.Background(), false); err == nil || !strings.Contains(err.Error(), "more than 1 MiB of JSON about the list of studies") {
		t.Fatalf("endless pages: %v", err)
	}
}

// The URL's host becomes a folder name (CACHE/pacs/HOST_PORT): "." and
// ".." (also percent-encoded) are no host.
func TestDotHost(t *testing.T) {
	for _, u := range []string{"http://../dicom-web", "https://./x"} {
		if _, err := New(u, Auth{}, nil); err == nil || !strings.Contains(err.Error(), "is no host name") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// A server that cuts its answer (Warning: 299) and ignores offset: the
// studies come with a PartialError; a study's series or a series'
// instances fail (a fetch from them would be silently incomplete).
func TestQIDOPartial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Warning", `299 pacs: "There are 930 additional results"`)
		var b strings.Builder
		key := "0020000D"
		if strings.HasSuffix(r.URL.Path, "/series") {
			key = "0020000E"
		}
		b.WriteString("[")
		for i := range 70 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{%q:{"vr":"UI","Value":["1.2.%d"]}}`, key, i)
		}
		fmt.Fprint(w, b.String()+"]")
	}))
	defer srv.Close()
	c := client(t, srv.URL+"/dicom-web", Auth{})
	st, err := c.Studies(context.Background(), false)
	var partial *PartialError
	if len(st) != 70 || !errors.As(err, &partial) || !strings.Contains(err.Error(), "cut its answer about the list of studies short (Warning: 299) after 70 result(s)") {
		t.Fatalf("studies: %d, %v", len(st), err)
	}
	if _, err := c.Series(context.Background(), study); !errors.As(err, &partial) {
		t.Fatalf("series: %v", err)
	}
	if _, err := c.FetchStudy(context.Background(), study, t.TempDir(), FetchOptions{}); !errors.As(err, &partial) {
		t.Fatalf("fetch: %v", err)
	}
}

// Resuming, the instance list is checked against the series' count: a
// server that caps its QIDO answers without a warning does not make a
// study silently incomplete.
func TestResumeListShorterThanCount(t *testing.T) {
	c := serveJSON(t, 200, func(r *http.Request) string {
		if strings.HasSuffix(r.URL.Path, "/series") {
			return `[{"0020000E":{"vr":"UI","Value":["1.2.3"]},"00201209":{"vr":"IS","Value":[3]}}]`
		}
		return `[{"00080018":{"vr":"UI","Value":["1.2.3.1"]}},{"00080018":{"vr":"UI","Value":["1.2.3.2"]}}]`
	})
	dest := t.TempDir()
	os.MkdirAll(filepath.Join(dest, "1.2.3"), 0o755)
	os.WriteFile(filepath.Join(dest, "1.2.3", "1.2.3.1.dcm"), []byte("x"), 0o644)
	_, err := c.FetchStudy(context.Background(), study, dest, FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "lists 2 instance(s) of series 1.2.3 of study "+study+" but counts 3 in its list of series: refused") {
		t.Fatalf("got %v", err)
	}
}

// A STOW upload cut short by the server: one that stops reading the body
// (the request would block forever: the header timeout starts only once the
// body is sent), one that closes the connection mid-upload, one that
// answers 413 before reading it. Each ends the store in bounded time with
// one line, and nothing of it reads like a Ctrl-C.
func TestStowUploadCut(t *testing.T) {
	dir := t.TempDir()
	s := dicomtest.Series{StudyUID: study, SeriesUID: study + ".9", Modality: "SEG", Rows: 512, Columns: 512, Slices: 48}
	var paths []string
	for _, im := range s.Images() {
		im.SOPInstanceUID = fmt.Sprintf("%s.9.%d", study, im.Instance)
		data, err := dicomtest.Encode(im)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, im.SOPInstanceUID+".dcm")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	hold := make(chan struct{})
	defer close(hold)
	for _, tc := range []struct {
		name string
		idle time.Duration // the bound under test for a stall; long elsewhere, so a loaded machine cannot trip it
		h    func(conn net.Conn, br *bufio.Reader)
		want string
	}{
		{"stops reading", 300 * time.Millisecond, func(conn net.Conn, br *bufio.Reader) {
			io.CopyN(io.Discard, br, 64<<10)
			<-hold
		}, "stopped reading the upload to study " + study + " for 300ms"},
		{"closes mid-upload", time.Minute, func(conn net.Conn, br *bufio.Reader) {
			io.CopyN(io.Discard, br, 256<<10)
		}, "closed the connection during the upload to study " + study},
		{"answers 413 first", time.Minute, func(conn net.Conn, br *bufio.Reader) {
			fmt.Fprint(conn, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			<-hold // reads no more: the answer, not a cut upload, is what the client reports
		}, "answered 413 Payload Too Large for study " + study},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, br, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				tc.h(conn, br.Reader)
			}))
			defer srv.Close()
			c := client(t, srv.URL+"/dicom-web", alice)
			c.Limits.Idle = tc.idle
			// the bound under test is Limits.Idle; this one only keeps a
			// regression from hanging the suite
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := c.Store(ctx, study, paths)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") ||
				errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// A server that cannot be reached at all: one line saying what to check.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := client(t, "http://"+addr+"/dicom-web", alice)
	_, err = c.Studies(context.Background(), false)
	want := "reach the DICOMweb server " + addr + ": "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; check that the PACS runs there and that the URL (host, port, path) is right") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
}
