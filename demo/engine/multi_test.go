package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const multiConfig = `{"id": "x", "meta": {"name": "multi"}, "model": {"io": {
  "input": {"format": ["application/json"],
    "t1": {"format": ["image/png"]}, "t2": {"format": ["image/png"]}},
  "output": [{"name": "brightness", "type": "label_list"}, {"name": "mask", "type": "mask_image"}, {"name": "means", "type": "vector"}]}}}`

// multiEngine serves a multi-input model from a temporary contrib_src.
func multiEngine(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "model"), 0o755)
	os.WriteFile(filepath.Join(root, "model", "config.json"), []byte(multiConfig), 0o644)
	e := &engine{root: root, log: io.Discard, outDir: filepath.Join(t.TempDir(), "output"), declaredOutputs: true}
	srv := httptest.NewServer(e.handler())
	t.Cleanup(srv.Close)
	return srv, root
}

func postFile(t *testing.T, url, name string, data []byte) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url+"/api/predict", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestAPI_multiInputCase(t *testing.T) {
	srv, root := multiEngine(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.png"), solid(255), 0o644)
	os.MkdirAll(filepath.Join(root, "sample_data"), 0o755)
	os.WriteFile(filepath.Join(root, "sample_data", "b.png"), solid(0), 0o644)
	// t1 by absolute path (as modelhub predict copies it into the container), t2 relative to contrib_src
	doc, _ := json.Marshal(map[string]any{"format": []string{"application/json"},
		"t1": map[string]any{"type": []string{"image/png"}, "fileurl": filepath.Join(dir, "a.png")},
		"t2": map[string]any{"type": []string{"image/png"}, "fileurl": "sample_data/b.png"}})
	status, body := postFile(t, srv.URL, "case.json", doc)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var p struct {
		Output []struct {
			Prediction json.RawMessage `json:"prediction"`
			Shape      []int           `json:"shape"`
			Type, Name string
		} `json:"output"`
	}
	if err := json.Unmarshal(body, &p); err != nil || len(p.Output) != 3 {
		t.Fatalf("answer %s: %v", body, err)
	}
	if p.Output[0].Type != "label_list" || !strings.Contains(string(p.Output[0].Prediction), `"probability": 0.5`) {
		t.Errorf("label_list of the mean of a white and a black image: %s", p.Output[0].Prediction)
	}
	if strings.Join(strings.Fields(string(p.Output[2].Prediction)), "") != "[1,0]" {
		t.Errorf("vector of the inputs' means = %s, want [1, 0]", p.Output[2].Prediction)
	}
	var maskURL string
	json.Unmarshal(p.Output[1].Prediction, &maskURL)
	if p.Output[1].Type != "mask_image" || !strings.HasPrefix(maskURL, srv.URL+"/api/output/") || len(p.Output[1].Shape) != 2 {
		t.Fatalf("mask output = %+v", p.Output[1])
	}
	resp, err := http.Get(maskURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := png.Decode(resp.Body); err != nil {
		t.Errorf("the mask is not a PNG: %v", err)
	}
}

// Without declared_outputs the engine answers one label_list whatever the
// config declares (what `modelhub test` must catch).
func TestAPI_defaultOneLabelList(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "model"), 0o755)
	os.WriteFile(filepath.Join(root, "model", "config.json"), []byte(multiConfig), 0o644)
	srv := httptest.NewServer((&engine{root: root, log: io.Discard}).handler())
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.png"), solid(255), 0o644)
	doc := `{"t1": {"fileurl": "` + filepath.Join(dir, "a.png") + `"}, "t2": {"fileurl": "` + filepath.Join(dir, "a.png") + `"}}`
	status, body := postFile(t, srv.URL, "case.json", []byte(doc))
	var p labelAnswer
	if err := json.Unmarshal(body, &p); status != 200 || err != nil || len(p.Output) != 1 || p.Output[0].Type != "label_list" || p.Output[0].Name != "brightness" {
		t.Errorf("status %d: %s", status, body)
	}
}

func TestAPI_multiInputErrors(t *testing.T) {
	srv, _ := multiEngine(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.png"), solid(255), 0o644)
	for name, doc := range map[string]string{
		"missing input": `{"t1": {"fileurl": "` + filepath.Join(dir, "a.png") + `"}}`,
		"missing file":  `{"t1": {"fileurl": "/nope.png"}, "t2": {"fileurl": "/nope.png"}}`,
		"bad json":      `{"t1": `,
	} {
		status, body := postFile(t, srv.URL, "case.json", []byte(doc))
		if status != 400 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: status %d body %s, want 400 and an error", name, status, body)
		}
	}
}

func TestAPI_predictDelayAndRm(t *testing.T) {
	e := &engine{root: modelDir, log: io.Discard, predictDelay: 300 * time.Millisecond}
	srv := httptest.NewServer(e.handler())
	defer srv.Close()
	start := time.Now()
	status, body := postFile(t, srv.URL, "w.png", solid(255))
	if status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("status %d after %s: %s", status, time.Since(start), body)
	}
	dir := filepath.Join(t.TempDir(), "case")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o644)
	if code := run([]string{"rm", "-rf", dir}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("rm exited %d", code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("rm left %s: %v", dir, err)
	}
}
