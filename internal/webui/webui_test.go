package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPort = 8800

// serve sends r to a server on testPort serving ms and returns the response.
func serve(t *testing.T, s *Server, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if r.Host == "example.com" { // httptest's default: address it like a browser would
		r.Host = "127.0.0.1:8800"
	}
	w := httptest.NewRecorder()
	s.Handler(testPort).ServeHTTP(w, r)
	return w
}

func testServer(models ...Model) *Server { return &Server{Models: Fixed(models...)} }

func TestHostCheck(t *testing.T) {
	e := newFakeEngine(t)
	s := testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8800", 200},
		{"localhost:8800", 200},
		{"LOCALHOST:8800", 200},
		{"[::1]:8800", 200},
		{"evil.example:8800", http.StatusMisdirectedRequest}, // DNS rebinding: the name of another site
		{"127.0.0.1:8801", http.StatusMisdirectedRequest},
		{"127.0.0.1", http.StatusMisdirectedRequest},
		{"192.168.1.5:8800", http.StatusMisdirectedRequest},
		{"", http.StatusMisdirectedRequest},
	} {
		for _, path := range []string{"/", "/m/fake/", "/m/fake/api/get_config"} {
			r := httptest.NewRequest("GET", path, nil)
			r.Host = tc.host
			if tc.host == "" {
				r.Host = ""
			}
			w := httptest.NewRecorder()
			s.Handler(testPort).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("Host %q GET %s: status %d, want %d (%s)", tc.host, path, w.Code, tc.want, w.Body)
			}
		}
	}
	// nothing refused reached the engine
	for _, req := range e.requests() {
		if req != "GET /api/get_config" && req != "GET /api/get_legal" && req != "GET /api/get_model_io" && req != "GET /api/get_samples" {
			t.Errorf("unexpected engine request %s", req)
		}
	}
}

func TestOriginCheck(t *testing.T) {
	e := newFakeEngine(t)
	s := testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	upload := func(origin, site string) int {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "x.png")
		_, _ = fw.Write([]byte("png"))
		_ = mw.Close()
		r := httptest.NewRequest("POST", "/m/fake/api/predict", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		return serve(t, s, r).Code
	}
	for _, tc := range []struct {
		origin, site string
		want         int
	}{
		{"http://127.0.0.1:8800", "same-origin", 200},
		{"http://localhost:8800", "", 200},
		{"", "", 200}, // curl: not a browser page
		{"http://evil.example", "cross-site", 403},
		{"http://evil.example", "", 403},
		{"null", "", 403},
		{"https://127.0.0.1:8800", "", 403},
		{"http://127.0.0.1:8801", "same-site", 403},
		{"", "cross-site", 403},
		{"", "same-site", 403},
	} {
		if got := upload(tc.origin, tc.site); got != tc.want {
			t.Errorf("upload with Origin %q Sec-Fetch-Site %q: status %d, want %d", tc.origin, tc.site, got, tc.want)
		}
	}
	uploads := 0
	for _, r := range e.requests() {
		if r == "POST /api/predict" {
			uploads++
		}
	}
	if uploads != 3 {
		t.Errorf("the engine got %d uploads, want the 3 allowed ones: %v", uploads, e.requests())
	}

	// reads: a page may be opened from another site, the API may not be read from one
	for _, tc := range []struct {
		path, site string
		want       int
	}{
		{"/m/fake/", "cross-site", 200},
		{"/", "cross-site", 200},
		{"/_ui/server.json", "cross-site", 200},
		{"/m/fake/api/get_config", "cross-site", 403},
		{"/m/fake/api/samples/cat.png", "cross-site", 403},
		{"/m/fake/api/get_config", "same-origin", 200},
		{"/m/fake/api/get_config", "none", 200},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("Sec-Fetch-Site", tc.site)
		if got := serve(t, s, r).Code; got != tc.want {
			t.Errorf("GET %s from %s: status %d, want %d", tc.path, tc.site, got, tc.want)
		}
	}
}

func TestProxy(t *testing.T) {
	e := newFakeEngine(t)
	s := testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	r := httptest.NewRequest("GET", "/m/fake/api/predict_sample?filename=cat%20one.png", nil)
	r.Header.Set("Origin", "http://127.0.0.1:8800")
	r.Header.Set("Cookie", "secret=1")
	w := serve(t, s, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"label":"cat"`) {
		t.Fatalf("predict_sample through the proxy: %d %s", w.Code, w.Body)
	}
	if got := e.requests(); len(got) != 1 || got[0] != "GET /api/predict_sample?filename=cat%20one.png" {
		t.Errorf("the engine saw %v", got)
	}
	h := e.headers[0]
	if h.Get("Origin") != "" || h.Get("Cookie") != "" {
		t.Errorf("Origin/Cookie forwarded to the engine: %v", h)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("the engine's CORS header passed through the proxy: %q", got)
	}

	// the engine sees its own address as Host (its sample URLs name it)
	w = serve(t, s, httptest.NewRequest("GET", "/m/fake/api/get_samples", nil))
	if !strings.Contains(w.Body.String(), strings.TrimPrefix(e.URL(), "http://")+"/api/samples/cat.png") {
		t.Errorf("get_samples through the proxy: %s", w.Body)
	}

	// writes other than an upload to predict are refused
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		r := httptest.NewRequest(m, "/m/fake/api/get_config", nil)
		if w := serve(t, s, r); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s get_config: status %d, want 405", m, w.Code)
		}
	}

	// an unknown model is a 404 naming it
	w = serve(t, s, httptest.NewRequest("GET", "/m/other/api/get_config", nil))
	if w.Code != 404 || !strings.Contains(w.Body.String(), "other is not running") {
		t.Errorf("unknown model: %d %s", w.Code, w.Body)
	}

	// an engine that does not answer is a 502 with an engine-style error
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	s = testServer(Model{Name: "gone", Mode: "api", APIURL: deadURL})
	w = serve(t, s, httptest.NewRequest("GET", "/m/gone/api/get_config", nil))
	var msg struct{ Error string }
	_ = json.Unmarshal(w.Body.Bytes(), &msg)
	if w.Code != http.StatusBadGateway || !strings.Contains(msg.Error, "the engine of gone at "+deadURL+" did not answer") {
		t.Errorf("dead engine: %d %s", w.Code, w.Body)
	}

	// a model in expert mode has no API to proxy
	s = testServer(Model{Name: "nb", Mode: "expert", NotebookURL: "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=x"})
	if w := serve(t, s, httptest.NewRequest("GET", "/m/nb/api/get_config", nil)); w.Code != 404 {
		t.Errorf("expert model API: %d", w.Code)
	}
}

func TestModelPage(t *testing.T) {
	e := newFakeEngine(t)
	s := testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	w := serve(t, s, httptest.NewRequest("GET", "/m/fake/", nil))
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, body)
	}
	for _, want := range []string{
		`<h1 id="model-name">Fake&lt;Net&gt;</h1>`, // the config's name, escaped
		"Fake image classification", "Says cat or dog.", "Coin flip",
		`<a href="https://example.org/paper" rel="noreferrer" target="_blank">A fake model</a>`,
		"A. Author, B. Author · arXiv · 2024",
		"MIT licence text", "CC-BY text",
		"PNG image, JPEG image; 3 dimensions: 1–4 × ≥32 × ≥32",
		"<b>probabilities</b>: labels with their probabilities",
		`data-url="api/samples/cat.png" data-image="1"`, `<img src="api/samples/cat.png"`,
		`data-url="api/samples/scan.nii.gz" data-image=""`, `.nii.gz</span>`,
		`accept="image/png,.png,image/jpeg,.jpg,.jpeg"`,
		`src="api/thumbnail/thumbnail.jpg"`,
		"<script>// The model page: runs the model",
		`href="/">All running models`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(body, "http://") && strings.Contains(body, e.URL()) {
		t.Errorf("the page names the engine's own address; everything must go through the UI")
	}

	// an engine error on one part is shown plainly, the rest of the page stays
	e.legalOK = false
	body = serve(t, s, httptest.NewRequest("GET", "/m/fake/", nil)).Body.String()
	if !strings.Contains(body, "/api/get_legal: the engine says: [Errno 2] No such file or directory: &#39;/contrib_src/license/model&#39;") {
		t.Errorf("the legal error is not shown:\n%s", body)
	}
	if !strings.Contains(body, "Fake image classification") {
		t.Errorf("the card is gone with the legal error")
	}

	// /m/fake redirects to /m/fake/
	if w := serve(t, s, httptest.NewRequest("GET", "/m/fake", nil)); w.Code != 301 || w.Header().Get("Location") != "/m/fake/" {
		t.Errorf("/m/fake: %d %v", w.Code, w.Header())
	}
}

func TestInputsSingleKey(t *testing.T) {
	// the newer template: the API's formats at the top, the input under "single"
	var in map[string]json.RawMessage
	_ = json.Unmarshal([]byte(`{"format": ["image/png"], "single": {"format": ["image/png", "image/jpeg"], "dim_limits": [{"min": 1, "max": 4}], "description": "one image"}}`), &in)
	views, multi := inputs(in)
	if multi || len(views) != 1 {
		t.Fatalf("inputs = %+v, multi %v; want one single input", views, multi)
	}
	if v := views[0]; v.Name != "" || v.Formats != "PNG image" || v.Dims != "1 dimension: 1–4" || v.Description != "one image" || v.Accept != "image/png,.png" {
		t.Errorf("single input %+v", v)
	}
}

func TestModelPageMultiInput(t *testing.T) {
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["application/nii-gzip"], "dim_limits": [{"min": 155, "max": 240}]}, "flair": {"format": ["application/nii-gzip"]}},
	 "output": [{"name": "Segmentation", "type": "mask_image", "description": "labels"}]}`
	s := testServer(Model{Name: "mi", Mode: "api", APIURL: e.URL(), ContribSrc: t.TempDir()})
	body := serve(t, s, httptest.NewRequest("GET", "/m/mi/", nil)).Body.String()
	for _, want := range []string{
		"Inputs (one file each)",
		"<b>flair</b>: compressed NIfTI volume (.nii.gz)",
		"<b>t1</b>: compressed NIfTI volume (.nii.gz); 1 dimension: 155–240",
		`<label>flair <input type="file" name="flair" accept="application/nii-gzip,.nii.gz,.gz" required></label>`,
		`<label>t1 <input type="file" name="t1"`,
		"<b>Segmentation</b>: a segmentation mask",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// without the model folder, uploads are not offered
	s = testServer(Model{Name: "mi", Mode: "api", APIURL: e.URL()})
	body = serve(t, s, httptest.NewRequest("GET", "/m/mi/", nil)).Body.String()
	if strings.Contains(body, `id="multi"`) || !strings.Contains(body, "needs the model's folder on this computer") {
		t.Errorf("multi-input without a folder offers uploads")
	}
}

func TestPredictMulti(t *testing.T) {
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["application/nii-gzip"]}, "flair": {"format": ["application/nii-gzip"]}}, "output": []}`
	contrib := t.TempDir()
	var staged map[string]string
	e.predict = func(name string, data []byte) (int, any) {
		var spec map[string]json.RawMessage
		if err := json.Unmarshal(data, &spec); err != nil {
			return 400, map[string]string{"error": "not json"}
		}
		staged = map[string]string{"_name": name}
		for _, in := range []string{"t1", "flair"} {
			var v struct {
				Type    []string
				FileURL string `json:"fileurl"`
			}
			_ = json.Unmarshal(spec[in], &v)
			// the container sees contrib_src at /contrib_src
			b, err := os.ReadFile(filepath.Join(contrib, strings.TrimPrefix(v.FileURL, "/contrib_src/")))
			if err != nil {
				return 400, map[string]string{"error": err.Error()}
			}
			staged[in] = v.Type[0] + " " + filepath.Base(v.FileURL) + " " + string(b)
		}
		return 200, prediction(map[string]any{"name": "seg", "type": "custom", "prediction": []int{1}})
	}
	s := testServer(Model{Name: "mi", Mode: "api", APIURL: e.URL(), ContribSrc: contrib})
	post := func(files map[string]string) *httptest.ResponseRecorder {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range files {
			fw, _ := mw.CreateFormFile(k, v+".nii.gz")
			_, _ = io.WriteString(fw, "data of "+v)
		}
		_ = mw.Close()
		r := httptest.NewRequest("POST", "/m/mi/_ui/predict_multi", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		r.Header.Set("Origin", "http://127.0.0.1:8800")
		return serve(t, s, r)
	}
	w := post(map[string]string{"t1": "a", "flair": "b"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"type":"custom"`) {
		t.Fatalf("predict_multi: %d %s", w.Code, w.Body)
	}
	if staged["_name"] != "input.json" || staged["t1"] != "application/nii-gzip t1.nii.gz data of a" || staged["flair"] != "application/nii-gzip flair.nii.gz data of b" {
		t.Errorf("the engine got %v", staged)
	}
	// nothing stays in the model folder
	if entries, _ := os.ReadDir(contrib); len(entries) != 0 {
		t.Errorf("left in contrib_src: %v", entries)
	}
	// a missing input is named, and the engine is not asked
	before := len(e.requests())
	w = post(map[string]string{"t1": "a"})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "a file is missing for input flair") {
		t.Errorf("missing input: %d %s", w.Code, w.Body)
	}
	for _, r := range e.requests()[before:] {
		if strings.HasPrefix(r, "POST") {
			t.Errorf("the engine was asked to predict with an input missing")
		}
	}
	if entries, _ := os.ReadDir(contrib); len(entries) != 0 {
		t.Errorf("left in contrib_src after a refused upload: %v", entries)
	}
}

func TestPredictMultiRefusesSymlinkedStaging(t *testing.T) {
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["application/nii-gzip"]}}, "output": []}`
	contrib, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(contrib, stagingDir)); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	s := testServer(Model{Name: "mi", Mode: "api", APIURL: e.URL(), ContribSrc: contrib})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("t1", "a.nii.gz")
	_, _ = io.WriteString(fw, "x")
	_ = mw.Close()
	r := httptest.NewRequest("POST", "/m/mi/_ui/predict_multi", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	if w := serve(t, s, r); w.Code == 200 {
		t.Errorf("staged through a symbolic link: %s", w.Body)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the model folder: %v", entries)
	}
}

func TestIndex(t *testing.T) {
	s := testServer(
		Model{Name: "alpha", Mode: "api", APIURL: "http://127.0.0.1:8000"},
		Model{Name: "beta", Mode: "expert", NotebookURL: "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=abc"},
		Model{Name: "g a", Mode: "bash"},
	)
	body := serve(t, s, httptest.NewRequest("GET", "/", nil)).Body.String()
	for _, want := range []string{
		`<a class="model-link" href="/m/alpha/">alpha</a>`,
		`<a href="/m/beta/_ui/notebook" rel="noreferrer">Jupyter notebook</a>`,
		`<span class="model-link">g a</span>`, "a shell, no web UI",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q:\n%s", want, body)
		}
	}
	body = serve(t, testServer(), httptest.NewRequest("GET", "/", nil)).Body.String()
	if !strings.Contains(body, "No model is running") {
		t.Errorf("empty index: %s", body)
	}
	failing := &Server{Models: func(context.Context) ([]Model, error) { return nil, errors.New("docker is down") }}
	body = serve(t, failing, httptest.NewRequest("GET", "/", nil)).Body.String()
	if !strings.Contains(body, "cannot list the running models: docker is down") {
		t.Errorf("a failing list is not shown: %s", body)
	}
	// run's server: / leads to its model
	single := &Server{Models: Fixed(Model{Name: "a b"}), Single: "a b"}
	if w := serve(t, single, httptest.NewRequest("GET", "/", nil)); w.Code != 302 || w.Header().Get("Location") != "/m/a%20b/" {
		t.Errorf("single: %d %v", w.Code, w.Header())
	}
}

func TestExpertPage(t *testing.T) {
	s := testServer(Model{Name: "nb", Mode: "expert", NotebookURL: "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=abc"})
	body := serve(t, s, httptest.NewRequest("GET", "/m/nb/", nil)).Body.String()
	if !strings.Contains(body, `<a id="notebook" href="/m/nb/_ui/notebook"`) {
		t.Errorf("the expert page lacks the notebook link:\n%s", body)
	}
}

func TestFreshOnMiss(t *testing.T) {
	running := []Model{{Name: "old", Mode: "api"}}
	live := func(context.Context) ([]Model, error) { return running, nil }
	s := &Server{Models: Cached(live, time.Hour), Fresh: live}
	if w := serve(t, s, httptest.NewRequest("GET", "/m/old/", nil)); w.Code != 200 {
		t.Fatalf("old: %d", w.Code)
	}
	running = append(running, Model{Name: "new", Mode: "expert"})
	if w := serve(t, s, httptest.NewRequest("GET", "/m/new/", nil)); w.Code != 200 {
		t.Errorf("a model started after the list was cached: %d %s", w.Code, w.Body)
	}
}

func TestCached(t *testing.T) {
	calls := 0
	l := Cached(func(context.Context) ([]Model, error) { calls++; return []Model{{Name: "x"}}, nil }, time.Hour)
	for range 3 {
		if ms, _ := l(context.Background()); len(ms) != 1 {
			t.Fatal(ms)
		}
	}
	if calls != 1 {
		t.Errorf("listed %d times, want 1", calls)
	}
}

// The page's own assets (script, style, templates) stay small.
func TestAssetWeight(t *testing.T) {
	total := 0
	_ = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assetFS.ReadFile(p)
			total += len(b)
		}
		return nil
	})
	if total == 0 || total > 100<<10 {
		t.Errorf("the UI's assets weigh %d bytes, want under 100 KB", total)
	}
	t.Logf("assets: %d bytes", total)
}

func TestServeAndShutdown(t *testing.T) {
	l, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- testServer().Serve(ctx, l) }()
	resp, err := http.Get(URL(Port(l), ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestServesAllModels(t *testing.T) {
	for _, tc := range []struct {
		s    *Server
		want bool
	}{
		{testServer(), true},
		{&Server{Models: Fixed(Model{Name: "a"}), Single: "a"}, false},
	} {
		l, err := Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- tc.s.Serve(ctx, l) }()
		if got := ServesAllModels(context.Background(), Port(l)); got != tc.want {
			t.Errorf("Single %q: ServesAllModels = %v, want %v", tc.s.Single, got, tc.want)
		}
		cancel()
		<-done
	}
	// nothing listening, or something else listening
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if ServesAllModels(context.Background(), Port(other.Listener)) {
		t.Error("another server counted as a modelhub ui")
	}
}
