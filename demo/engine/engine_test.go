package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
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

const modelDir = "../model/contrib_src"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer((&engine{root: modelDir, log: io.Discard}).handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, wantStatus int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", url, resp.StatusCode, wantStatus, body)
	}
	return body
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func TestAPI_configLegalIO(t *testing.T) {
	srv := newServer(t)
	cfg := decode[map[string]any](t, get(t, srv.URL+"/api/get_config", 200))
	if cfg["meta"].(map[string]any)["name"] != "demo" {
		t.Errorf("config meta.name = %v", cfg["meta"])
	}
	legal := decode[map[string]string](t, get(t, srv.URL+"/api/get_legal", 200))
	for _, k := range []string{"modelhub_license", "modelhub_acknowledgements", "model_license", "sample_data_license"} {
		if legal[k] == "" {
			t.Errorf("get_legal: %s is empty", k)
		}
	}
	mio := decode[map[string]any](t, get(t, srv.URL+"/api/get_model_io", 200))
	if _, ok := mio["input"]; !ok {
		t.Errorf("get_model_io has no input: %v", mio)
	}
	if !strings.Contains(string(get(t, srv.URL+"/", 200)), "<h1>demo</h1>") {
		t.Error("web UI does not name the model")
	}
}

func TestAPI_samplesAndPredictSample(t *testing.T) {
	srv := newServer(t)
	urls := decode[[]string](t, get(t, srv.URL+"/api/get_samples", 200))
	want := []string{srv.URL + "/api/samples/bright.png", srv.URL + "/api/samples/dark.png"}
	if strings.Join(urls, " ") != strings.Join(want, " ") {
		t.Fatalf("get_samples = %v, want %v", urls, want)
	}
	if img := get(t, urls[0], 200); !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Error("sample is not a PNG")
	}
	for name, top := range map[string]string{"bright.png": "bright", "dark.png": "dark"} {
		p := decode[labelAnswer](t, get(t, srv.URL+"/api/predict_sample?filename="+name, 200))
		if len(p.Output) != 1 || p.Output[0].Type != "label_list" || p.Output[0].Name != "brightness" {
			t.Fatalf("%s: output = %+v", name, p.Output)
		}
		o := p.Output[0]
		if o.Prediction[0].Label != top || len(o.Shape) != 1 || o.Shape[0] != len(o.Prediction) {
			t.Errorf("%s: prediction %+v shape %v, want %s first", name, o.Prediction, o.Shape, top)
		}
		if sum := o.Prediction[0].Probability + o.Prediction[1].Probability; sum < 0.999 || sum > 1.001 {
			t.Errorf("%s: probabilities sum to %v", name, sum)
		}
		if p.Model["name"] != "demo" || p.Model["id"] == "" {
			t.Errorf("model = %v", p.Model)
		}
		if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", p.Timestamp, err)
		}
	}
}

// labelAnswer is a prediction whose first output is a label_list.
type labelAnswer struct {
	Output []struct {
		Prediction []label `json:"prediction"`
		Shape      []int   `json:"shape"`
		Type       string  `json:"type"`
		Name       string  `json:"name"`
	} `json:"output"`
	Timestamp string            `json:"timestamp"`
	Model     map[string]string `json:"model"`
}

func solid(v uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func TestAPI_predictUploadAndURL(t *testing.T) {
	srv := newServer(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "white.png")
	fw.Write(solid(255))
	mw.Close()
	resp, err := http.Post(srv.URL+"/api/predict", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := decode[labelAnswer](t, data)
	if got := p.Output[0].Prediction[0]; got.Label != "bright" || got.Probability != 1 {
		t.Errorf("white image: %+v", got)
	}

	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(solid(0))
	}))
	defer files.Close()
	p = decode[labelAnswer](t, get(t, srv.URL+"/api/predict?fileurl="+files.URL+"/black.png", 200))
	if got := p.Output[0].Prediction[0]; got.Label != "dark" || got.Probability != 1 {
		t.Errorf("black image: %+v", got)
	}
}

func TestAPI_errors(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{
		"/api/predict_sample?filename=missing.png",
		"/api/predict_sample?filename=../model/config.json",
		"/api/predict_sample?filename=",
		"/api/predict",
		"/api/samples/nope.png",
		"/api/samples/..%2fmodel%2fconfig.json",
		"/api/predict_sample?filename=../license/model",
		"/api/nothing",
	} {
		status := 400
		if path == "/api/nothing" {
			status = 404
		}
		e := decode[map[string]string](t, get(t, srv.URL+path, status))
		if e["error"] == "" {
			t.Errorf("%s: no error message: %v", path, e)
		}
	}
	// Not an image.
	resp, err := http.Post(srv.URL+"/api/predict", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("POST without multipart: %d", resp.StatusCode)
	}
}

func TestAPI_modelFilesAndThumbnail(t *testing.T) {
	srv := newServer(t)
	data := get(t, srv.URL+"/api/get_model_files", 200)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "config.json") {
		t.Errorf("zip holds %v, want config.json", names)
	}
	if img := get(t, srv.URL+"/api/thumbnail/thumbnail.jpg", 200); !bytes.HasPrefix(img, []byte{0xff, 0xd8}) {
		t.Error("thumbnail is not a JPEG")
	}
}

func TestClassify(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.White)
	img.Set(1, 0, color.Black)
	if m := meanIntensity(img); m < 0.49 || m > 0.51 {
		t.Errorf("mean of black+white = %v", m)
	}
	if l := classify(image.NewGray(image.Rect(0, 0, 1, 1))); l[0].Label != "dark" || l[0].Probability != 1 {
		t.Errorf("black pixel: %+v", l)
	}
}

func TestNotebook_token(t *testing.T) {
	srv := httptest.NewServer(notebookHandler("s3cret", io.Discard))
	defer srv.Close()
	get(t, srv.URL+"/notebooks/sandbox.ipynb", 403)
	get(t, srv.URL+"/notebooks/sandbox.ipynb?token=wrong", 403)
	if !strings.Contains(string(get(t, srv.URL+"/notebooks/sandbox.ipynb?token=s3cret", 200)), "sandbox.ipynb") {
		t.Error("notebook page missing")
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.Header.Set("Authorization", "token s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Authorization header: status %d", resp.StatusCode)
	}
}

func TestNotebook_refusesEmptyToken(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"jupyter", "notebook", "--port=0", "--NotebookApp.token="}, nil, io.Discard, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "without a token") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestShell(t *testing.T) {
	tests := []struct {
		args       []string
		in         string
		out, err   string
		wantStatus int
	}{
		{[]string{"bash"}, "echo hello world\nexit 3\necho never\n", "hello world\n", "", 3},
		{[]string{"engine", "bash"}, "false\n", "", "", 1},
		{[]string{"/bin/bash"}, "nope\n", "", "bash: nope: command not found\n", 127},
		{[]string{"bash", "-c", "exit 7"}, "", "", "", 7},
		{[]string{"bash"}, "exit x\n", "", "bash: exit: x: numeric argument required\n", 2},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		got := run(tt.args, strings.NewReader(tt.in), &out, &errb)
		if got != tt.wantStatus || out.String() != tt.out || errb.String() != tt.err {
			t.Errorf("%v <<%q: status %d out %q err %q; want %d %q %q", tt.args, tt.in, got, out.String(), errb.String(), tt.wantStatus, tt.out, tt.err)
		}
	}
}

func TestServeAPI_crashAndBadBehaviour(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "demo_engine.json"), []byte(`{"exit_code": 3, "crash_message": "out of memory"}`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := serveAPI(dir, "127.0.0.1:0", &stdout, &stderr); code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if !strings.Contains(stderr.String(), "out of memory") {
		t.Errorf("stderr = %q", stderr.String())
	}
	os.WriteFile(filepath.Join(dir, "demo_engine.json"), []byte(`{"ready_delay": "soon"}`), 0o644)
	if code := serveAPI(dir, "127.0.0.1:0", &stdout, &stderr); code != 1 {
		t.Errorf("bad ready_delay: exit %d, want 1", code)
	}
}

func TestSplitArgs(t *testing.T) {
	m := splitArgs([]string{"--ip=0.0.0.0", "--port", "8080", "--no-browser", "--NotebookApp.token=abc"})
	if m["ip"] != "0.0.0.0" || m["port"] != "8080" || m["NotebookApp.token"] != "abc" {
		t.Errorf("splitArgs = %v", m)
	}
	if _, ok := m["no-browser"]; !ok {
		t.Error("no-browser flag lost")
	}
}
