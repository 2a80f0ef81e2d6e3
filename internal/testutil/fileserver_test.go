package testutil

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestFileServer(t *testing.T) {
	s := NewFileServer(t)
	url := s.AddBytes("/f", []byte("0123456789"))

	resp, body, err := get(t, url, nil)
	if err != nil || resp.StatusCode != 200 || string(body) != "0123456789" || resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("plain GET: %v %v %q", resp, err, body)
	}
	etag := resp.Header.Get("ETag")
	resp, body, _ = get(t, url, map[string]string{"Range": "bytes=4-", "If-Range": etag})
	if resp.StatusCode != 206 || string(body) != "456789" {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}
	resp, body, _ = get(t, url, map[string]string{"Range": "bytes=4-", "If-Range": `"other"`})
	if resp.StatusCode != 200 || string(body) != "0123456789" {
		t.Errorf("stale If-Range: %d %q, want the whole file", resp.StatusCode, body)
	}

	s.SetFault("/f", Fault{Status: 503, StatusTimes: 1})
	if resp, _, _ = get(t, url, nil); resp.StatusCode != 503 {
		t.Errorf("first answer %d, want 503", resp.StatusCode)
	}
	if resp, _, _ = get(t, url, nil); resp.StatusCode != 200 {
		t.Errorf("second answer %d, want 200", resp.StatusCode)
	}

	s.SetFault("/f", Fault{CutAfter: 3, CutTimes: 1})
	if _, body, err = get(t, url, nil); err == nil || string(body) != "012" {
		t.Errorf("cut: %q %v, want 3 bytes and an error", body, err)
	}

	s.SetFault("/f", Fault{IgnoreRange: true})
	if resp, body, _ = get(t, url, map[string]string{"Range": "bytes=4-"}); resp.StatusCode != 200 || len(body) != 10 {
		t.Errorf("ignore range: %d %q", resp.StatusCode, body)
	}

	big := s.Add("/big", NewPattern(200_000, 1))
	s.SetFault("/big", Fault{RateLimit: 1_000_000})
	start := time.Now()
	if _, body, _ = get(t, big, nil); len(body) != 200_000 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("rate limit: %d bytes in %s, want 200000 in about 200ms", len(body), time.Since(start))
	}

	redir := s.Redirect("/r", "/f")
	s.SetFault("/f", Fault{})
	if resp, body, _ = get(t, redir, nil); resp.StatusCode != 200 || string(body) != "0123456789" {
		t.Errorf("redirect: %d %q", resp.StatusCode, body)
	}
	if n := s.Count("/f"); n != 8 {
		t.Errorf("%d requests logged for /f, want 8", n)
	}
	if rr := s.RangeRequests("/f"); len(rr) != 3 || !strings.HasPrefix(rr[0].Range, "bytes=4-") {
		t.Errorf("range requests %+v", rr)
	}
}

func TestPattern(t *testing.T) {
	p := NewPattern(200_000, 3)
	all := make([]byte, p.Size())
	if n, _ := p.ReadAt(all, 0); n != 200_000 {
		t.Fatalf("read %d", n)
	}
	part := make([]byte, 1000)
	p.ReadAt(part, 70_000)
	if string(part) != string(all[70_000:71_000]) {
		t.Error("ReadAt at an offset differs from the whole")
	}
	if SHA256(p) != HashBytes(all) {
		t.Error("SHA256 differs from HashBytes")
	}
	if SHA256(NewPattern(200_000, 4)) == SHA256(p) {
		t.Error("different seeds give the same content")
	}
}

func TestGitServer(t *testing.T) {
	g := NewGitServer(t)
	r := g.Repo(t, "x", map[string]string{"a.txt": "a"})
	first := r.Head()
	r.WriteFiles(map[string]string{"b.txt": "b"})
	second := r.Commit("two")
	if first == second || r.Head() != second || len(second) != 40 {
		t.Errorf("heads %s %s", first, second)
	}
	resp, body, err := get(t, r.URL+"/info/refs?service=git-upload-pack", nil)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), second) {
		t.Errorf("smart-HTTP refs: %v %v %q", resp, err, body)
	}
}

// Fault.Hold stops a response after HoldAfter bytes until it is closed; then
// the rest comes.
func TestFileServer_hold(t *testing.T) {
	s := NewFileServer(t)
	url := s.Add("/f", NewPattern(1<<20, 1))
	hold := make(chan struct{})
	s.SetFault("/f", Fault{Hold: hold, HoldAfter: 1000})
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	more := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, resp.Body)
		more <- int(n)
	}()
	select {
	case n := <-more:
		t.Fatalf("%d bytes past HoldAfter before the release", n)
	case <-time.After(200 * time.Millisecond):
	}
	close(hold)
	if n := <-more; n != 1<<20-1000 {
		t.Fatalf("after the release: %d bytes, want %d", n, 1<<20-1000)
	}
}
