package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeEngine answers the engine's routes the way the real one does, and
// records the last request.
func fakeEngine(t *testing.T) (*httptest.Server, *http.Request) {
	t.Helper()
	var last http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/get_config", func(w http.ResponseWriter, r *http.Request) {
		last = *r
		io.WriteString(w, `{"meta": {"name": "m"}}`)
	})
	mux.HandleFunc("GET /api/get_legal", func(w http.ResponseWriter, r *http.Request) {
		// the engine's answer for a missing licence file: 400 with an error
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"model_license": "MIT", "error": "no sample_data license"}`)
	})
	mux.HandleFunc("GET /api/get_samples", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `["http://`+r.Host+`/api/samples/a.png"]`)
	})
	mux.HandleFunc("GET /api/get_model_io", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<html>Internal Server Error</html>`)
	})
	mux.HandleFunc("GET /api/predict_sample", func(w http.ResponseWriter, r *http.Request) {
		last = *r
		io.WriteString(w, `{"output": [{"name": "mask", "type": "mask_image", "prediction": "http://10.0.0.1:80/api/output/m%20ask.nii.gz"}, {"name": "p", "type": "label_list", "prediction": [{"label": "x", "probability": 1}]}]}`)
	})
	mux.HandleFunc("GET /api/predict", func(w http.ResponseWriter, r *http.Request) {
		last = *r
		io.WriteString(w, `not json`)
	})
	mux.HandleFunc("POST /api/predict", func(w http.ResponseWriter, r *http.Request) {
		last = *r
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			t.Error(err)
		}
		p, err := multipart.NewReader(r.Body, params["boundary"]).NextPart()
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(p)
		json.NewEncoder(w).Encode(map[string]string{"file": p.FileName(), "type": p.Header.Get("Content-Type"), "body": string(b)})
	})
	mux.HandleFunc("GET /api/output/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "mask.png" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "PNG")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &last
}

func TestClient_routes(t *testing.T) {
	srv, last := fakeEngine(t)
	c := New(srv.URL + "/")
	ctx := t.Context()

	if raw, err := c.Config(ctx); err != nil || !strings.Contains(string(raw), `"m"`) {
		t.Errorf("Config: %s, %v", raw, err)
	}
	if last.URL.Path != RouteConfig {
		t.Errorf("Config asked %s", last.URL.Path)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
	s, err := c.Samples(ctx)
	if err != nil || len(s) != 1 || SampleName(s[0]) != "a.png" {
		t.Errorf("Samples: %v, %v", s, err)
	}

	// an {"error"} is the engine's refusal whatever the status; the reply keeps the rest
	_, err = c.Legal(ctx)
	var ee *EngineError
	if !errors.As(err, &ee) || ee.Status != 400 || ee.Msg != "no sample_data license" || err.Error() != "the model answered: no sample_data license" {
		t.Errorf("Legal: %v", err)
	}
	a, err := c.Get(ctx, RouteLegal, nil)
	if err != nil || a.Status != 400 || a.StatusLine != "400 Bad Request" || !strings.Contains(string(a.Body), "MIT") {
		t.Errorf("Get legal: %+v, %v", a, err)
	}

	// a status without an engine error is an HTTPError with the body's start
	_, err = c.ModelIO(ctx)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 500 || err.Error() != "HTTP 500: <html>Internal Server Error</html>" {
		t.Errorf("ModelIO: %v", err)
	}

	// predict by URL: the URL goes as the fileurl query; an answer that is not JSON is an error
	_, err = c.PredictURL(ctx, "http://x/a b.png?q=1&r")
	if err == nil || err.Error() != "the answer is not JSON: not json" {
		t.Errorf("PredictURL: %v", err)
	}
	if got := last.URL.Query().Get("fileurl"); got != "http://x/a b.png?q=1&r" || last.Method != http.MethodGet {
		t.Errorf("PredictURL sent fileurl %q", got)
	}

	// predict on a sample; output files are rewritten onto our base URL
	raw, err := c.PredictSample(ctx, "a b.png")
	if err != nil {
		t.Fatal(err)
	}
	if got := last.URL.Query().Get("filename"); got != "a b.png" {
		t.Errorf("PredictSample sent filename %q", got)
	}
	ans, err := ParseAnswer(raw)
	if err != nil {
		t.Fatal(err)
	}
	files := c.Files(ans)
	if len(files) != 1 || files[0].Index != 0 || files[0].Name != "mask" || files[0].URL != srv.URL+"/api/output/m%20ask.nii.gz" {
		t.Errorf("Files: %+v", files)
	}
	if !IsOutputURL(string(ans.Output[0].Prediction)) || OutputPath(string(ans.Output[0].Prediction)) != "/api/output/m%20ask.nii.gz" || OutputPath("x.png") != "x.png" {
		t.Errorf("IsOutputURL/OutputPath of %s", ans.Output[0].Prediction)
	}
}

// An upload is one multipart field "file": its name's control characters
// replaced, quotes escaped, its type given (octet-stream when unknown), a
// Content-Length set.
func TestClient_upload(t *testing.T) {
	srv, last := fakeEngine(t)
	c := &Client{Base: srv.URL, HTTP: NewHTTP(1)}
	raw, err := c.PredictReader(t.Context(), strings.NewReader("abcdef"), 3, "a\x01\"b.png", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"body":"abc","file":"a_\"b.png","type":"application/octet-stream"}`; strings.TrimSpace(string(raw)) != want {
		t.Errorf("got %s, want %s", raw, want)
	}
	if last.ContentLength <= 3 || last.Header.Get("Accept") != "application/json" {
		t.Errorf("Content-Length %d, Accept %q", last.ContentLength, last.Header.Get("Accept"))
	}
	resp, err := c.Upload(t.Context(), strings.NewReader("{}"), 2, "input.json", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := `{"body":"{}","file":"input.json","type":"application/json"}`; strings.TrimSpace(string(b)) != want {
		t.Errorf("Upload relayed %s, want %s", b, want)
	}
}

func TestClient_outputs(t *testing.T) {
	srv, _ := fakeEngine(t)
	c := New(srv.URL)
	var b strings.Builder
	if n, err := c.Download(t.Context(), srv.URL+OutputPrefix+"mask.png", &b); err != nil || n != 3 || b.String() != "PNG" {
		t.Errorf("Download: %d %q %v", n, b.String(), err)
	}
	rc, err := c.OpenOutput(t.Context(), OutputPrefix+"mask.png") // a path on this engine
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	_, err = c.OpenOutput(t.Context(), OutputPrefix+"gone.png")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 404 {
		t.Errorf("a missing output: %v", err)
	}
}

// A client's own MaxAnswer is named in its refusal; nothing answering is the
// HTTP client's error, and Ready says what answered.
func TestClient_limitsAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == RouteConfig {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"output": "`+strings.Repeat("x", 2<<20)+`"}`)
	}))
	defer srv.Close()
	c := &Client{Base: srv.URL, MaxAnswer: 1 << 20}
	_, err := c.PredictSample(t.Context(), "a.png")
	if err == nil || err.Error() != "the model's answer is larger than 1 MiB, the limit for a JSON answer" {
		t.Errorf("over a client's own limit: %v", err)
	}
	if err := c.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "answered 503") {
		t.Errorf("Ready on a 503: %v", err)
	}
	srv.Close()
	if _, err := c.Get(context.Background(), RouteConfig, nil); err == nil {
		t.Error("a closed engine answered")
	}
	if ConfigURL("http://h:1/") != "http://h:1/api/get_config" || ReadyURL("http://h:1") != "http://h:1/api/get_config" {
		t.Error("ConfigURL/ReadyURL")
	}
	if SampleName("http://h/api/samples/") != "" || SampleName("http://h/x/a.png") != "" || SampleName("%zz") != "" {
		t.Error("SampleName accepts a URL that names no sample")
	}
}
