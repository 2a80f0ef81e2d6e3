package webui

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 21's hostile review found these held; the tests keep them holding.

// Proxy path tricks: whatever a request's path does (dot segments, encoded
// dots and slashes, doubled slashes), the engine is asked for paths under
// /api/ only, without a dot segment. (Encoded dot segments, %2e%2e and ..%2f,
// reached the engine as /api/../../secret before hasDotSegment.)
func TestProxy_pathTricks(t *testing.T) {
	e := newFakeEngine(t)
	port := startUI(t, testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL() + "/base"}))
	host := "127.0.0.1:" + strconv.Itoa(port)
	tricks := []string{
		"/m/fake/api/../../secret",
		"/m/fake/api/%2e%2e/%2e%2e/secret",
		"/m/fake/api/..%2f..%2fsecret",
		"/m/fake/api/%2E%2E%2F%2E%2E%2Fsecret",
		"/m/fake/api//..//..//secret",
		"/m/fake/api/get_config/../../../secret",
		"/m/fake/../other/api/get_config",
		"/m/fake/api/samples/..%5c..%5csecret",
		"/m/fake%2f..%2f..%2fsecret/api/get_config",
		"/m/fake/api/get_config%3f/../../secret",
		"/m/fake/api/get_config", // the control: this one reaches the engine
	}
	for _, p := range tricks {
		req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: host, Opaque: p}, Host: host, Header: http.Header{}}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		resp.Body.Close()
	}
	seen := e.requests()
	if !slices.Contains(seen, "GET /base/api/get_config") {
		t.Fatalf("the control request did not reach the engine (it saw %q): this test proves nothing", seen)
	}
	for _, r := range seen {
		path, _, _ := strings.Cut(strings.TrimPrefix(r, "GET "), "?")
		dec, err := url.PathUnescape(path)
		if err != nil || !strings.HasPrefix(dec, "/base/api/") || hasDotSegment(dec) {
			t.Errorf("the engine was asked for %q", r)
		}
	}
}

// Huge uploads: a prediction's body through the UI is cut at maxUpload; the
// engine never receives more, the browser gets an error.
func TestProxy_uploadBounded(t *testing.T) {
	// restored after startUI's cleanup has stopped the server (cleanups run
	// last first), so no handler reads it meanwhile
	old := maxUpload
	t.Cleanup(func() { maxUpload = old })
	maxUpload = 1 << 20
	e := newFakeEngine(t)
	port := startUI(t, testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()}))
	body := bytes.Repeat([]byte("x"), 8<<20)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:"+strconv.Itoa(port)+"/m/fake/api/predict", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Origin", "http://127.0.0.1:"+strconv.Itoa(port))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("an 8 MiB upload over a 1 MiB limit: %s %s", resp.Status, msg)
		}
	} // else: the UI closed the connection on the body, also a refusal
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.bodies {
		if len(b) > 1<<20 {
			t.Errorf("the engine received %d bytes, over the 1 MiB limit", len(b))
		}
	}
}

// Slowloris: a client that never finishes its request's headers is
// disconnected after readHeaderTimeout, not held open.
func TestServe_slowHeaders(t *testing.T) {
	old := readHeaderTimeout
	t.Cleanup(func() { readHeaderTimeout = old })
	readHeaderTimeout = 300 * time.Millisecond
	port := startUI(t, testServer())
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: "); err != nil {
		t.Fatal(err)
	}
	// bounded: the server hangs up well before this
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(bufio.NewReader(c))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the UI held a connection with unfinished headers open for 30 s (readHeaderTimeout %s)", readHeaderTimeout)
	}
}
