package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runResult is `run -d --json`.
type runResult struct {
	Name, Container, Mode string
	APIURL                string `json:"api_url"`
	NotebookURL           string `json:"notebook_url"`
}

// runDetached starts the model with `run -d --json` plus args and returns its URLs.
func (e *Env) runDetached(args ...string) runResult {
	e.t.Helper()
	r := e.must(append([]string{"run", "-d", "--json"}, append(args, e.Model)...)...)
	var res runResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		e.t.Fatalf("run --json: %v\n%s", err, r)
	}
	return res
}

// stopTimed runs `modelhub stop MODEL`, logs how long it took and checks
// that nothing of the model is left.
func (e *Env) stopTimed(what string) time.Duration {
	e.t.Helper()
	r := e.must("stop", e.Model)
	e.t.Logf("STOP TIME %s: modelhub stop took %s", what, r.Took.Round(time.Millisecond))
	if cs := e.Containers(); len(cs) != 0 {
		e.t.Fatalf("%d container(s) left after stop: %+v", len(cs), cs)
	}
	return r.Took
}

// pngBytes is a grey PNG of w x h pixels.
func pngBytes(t testing.TB, w, h int, v uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postFile POSTs data as the multipart field "file" to url, decodes the JSON
// answer and returns the HTTP status (200, or 400 for a failed prediction).
func postFile(t testing.TB, url, name string, data []byte, v any) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST %s: status %d: %s", url, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("POST %s: %v: %s", url, err, raw)
	}
	return resp.StatusCode
}

type prediction struct {
	Error  string `json:"error"`
	Output []struct {
		Prediction json.RawMessage `json:"prediction"`
		Shape      []int           `json:"shape"`
		Type, Name string
	} `json:"output"`
	Model struct{ ID, Name string } `json:"model"`
}

// topLabel is the most probable label of a label_list prediction.
func (p prediction) topLabel(t testing.TB) string {
	t.Helper()
	if p.Error != "" || len(p.Output) != 1 || p.Output[0].Type != "label_list" {
		t.Fatalf("want one label_list output, got %+v", p)
	}
	var ll []struct {
		Label       string
		Probability float64
	}
	if err := json.Unmarshal(p.Output[0].Prediction, &ll); err != nil || len(ll) != 2 {
		t.Fatalf("label_list %s: %v", p.Output[0].Prediction, err)
	}
	if ll[0].Probability > ll[1].Probability {
		return ll[0].Label
	}
	return ll[1].Label
}

// The whole life of a model on the real engine: pull (clone + external
// file), run -d, every REST endpoint, ps, logs with an engine message,
// stop (timed).
func TestRealEngine_PullRunRESTStop(t *testing.T) {
	e := newEnv(t)
	r := e.must("pull", e.Model)
	got, err := os.ReadFile(filepath.Join(e.ModelDir(), "contrib_src", "model", "weights.bin"))
	if err != nil || !bytes.Equal(got, e.Weights) {
		t.Fatalf("the external file was not downloaded (%v)\n%s", err, r)
	}
	res := e.runDetached()
	if res.Mode != "api" || res.APIURL == "" {
		t.Fatalf("run -d --json: %+v", res)
	}
	api := res.APIURL + "/api/"

	var cfg map[string]any
	getJSON(t, api+"get_config", &cfg)
	if cfg["meta"].(map[string]any)["name"] != e.Model {
		t.Errorf("get_config meta.name = %v, want %s", cfg["meta"], e.Model)
	}
	var legal map[string]string
	getJSON(t, api+"get_legal", &legal)
	for _, k := range []string{"modelhub_license", "modelhub_acknowledgements", "model_license", "sample_data_license"} {
		if _, ok := legal[k]; !ok {
			t.Errorf("get_legal lacks %s: %v", k, legal)
		}
	}
	if !strings.Contains(legal["model_license"], "MIT License") {
		t.Errorf("model_license is not ours: %q", legal["model_license"])
	}
	var io map[string]any
	getJSON(t, api+"get_model_io", &io)
	if _, ok := io["input"]; !ok || io["output"] == nil {
		t.Errorf("get_model_io: %v", io)
	}
	var samples []string
	getJSON(t, api+"get_samples", &samples)
	if len(samples) != 2 {
		t.Fatalf("get_samples: %v, want 2 URLs", samples)
	}
	for _, s := range samples {
		if b := getJSON(t, s, nil); !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("sample %s is not a PNG", s)
		}
	}
	if b := getJSON(t, api+"thumbnail/thumbnail.jpg", nil); !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		t.Errorf("thumbnail is not a JPEG")
	}
	if b := getJSON(t, api+"get_model_files", nil); !bytes.HasPrefix(b, []byte("PK")) {
		t.Errorf("get_model_files is not a zip")
	}
	for sample, want := range map[string]string{"bright.png": "bright", "dark.png": "dark"} {
		var p prediction
		getJSON(t, api+"predict_sample?filename="+sample, &p)
		if got := p.topLabel(t); got != want {
			t.Errorf("predict_sample %s: %s, want %s", sample, got, want)
		}
	}
	// fileurl is fetched by the engine, from inside the container: its own port 80.
	var p prediction
	inside := "http://127.0.0.1:80/api/samples/bright.png"
	getJSON(t, api+"predict?fileurl="+inside, &p)
	if got := p.topLabel(t); got != "bright" {
		t.Errorf("predict by fileurl %s: %s, want bright", inside, got)
	}
	if code := postFile(t, api+"predict", "upload.png", pngBytes(t, 16, 16, 250), &p); code != http.StatusOK {
		t.Errorf("predict by upload: status %d", code)
	}
	if got := p.topLabel(t); got != "bright" {
		t.Errorf("predict by upload: %s, want bright", got)
	}
	// A too small image: the engine answers with an error (HTTP 400 for an
	// upload) and prints why.
	var bad prediction
	postFile(t, api+"predict", "tiny.png", pngBytes(t, 2, 2, 0), &bad)
	if !strings.Contains(bad.Error, "do not comply") {
		t.Errorf("predict of a 2x2 image: %+v, want an error naming the dimensions", bad)
	}

	ps := e.must("ps", "--json")
	if !strings.Contains(ps.Stdout, `"name": "`+e.Model+`"`) || !strings.Contains(ps.Stdout, res.APIURL) {
		t.Errorf("ps --json does not show the model:\n%s", ps)
	}
	// The engine's print() reaches the log at once (PYTHONUNBUFFERED).
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := e.must("logs", e.Model)
		all := logs.Stdout + logs.Stderr
		if strings.Contains(all, "do not comply with input requirements") && strings.Contains(all, "brightness model: loaded 2 weights") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's messages are not in the log:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(e.ModelDir(), "contrib_src", "__pycache__")); err == nil {
		t.Errorf("the engine wrote __pycache__ into the model folder (PYTHONDONTWRITEBYTECODE)")
	}
	e.stopTimed("api mode, run -d")
}

// A foreground run ends on Ctrl-C (SIGINT to modelhub) with exit 130 and
// leaves no container.
func TestRealEngine_ForegroundCtrlC(t *testing.T) {
	e := newEnv(t)
	e.must("pull", e.Model)
	p := e.start("run", e.Model)
	waitFor(t, p.Stdout, regexp.MustCompile(`REST API: http://\S+`), 2*time.Minute)
	if n := len(e.Containers()); n != 1 {
		t.Fatalf("%d containers while running, want 1", n)
	}
	start := time.Now()
	p.Cmd.Process.Signal(syscall.SIGINT)
	code := p.Wait(t, time.Minute)
	t.Logf("STOP TIME api mode, Ctrl-C of a foreground run: %s", time.Since(start).Round(time.Millisecond))
	if code != 130 {
		t.Errorf("exit code %d, want 130\n%s", code, p.Stderr)
	}
	if n := len(e.Containers()); n != 0 {
		t.Errorf("%d containers left after Ctrl-C", n)
	}
	if !strings.Contains(p.Stderr.String(), e.Model+" stopped and removed") {
		t.Errorf("stderr:\n%s", p.Stderr)
	}
}

// Expert mode: Jupyter of the real image answers only with its token; the
// sandbox notebook is there.
func TestRealEngine_Expert(t *testing.T) {
	e := newEnv(t)
	e.must("pull", e.Model)
	res := e.runDetached("-e")
	if res.Mode != "expert" || !strings.Contains(res.NotebookURL, "token=") {
		t.Fatalf("run -e -d --json: %+v", res)
	}
	base, token, _ := strings.Cut(res.NotebookURL, "/notebooks/sandbox.ipynb?token=")
	resp, err := http.Get(base + "/api/contents/sandbox.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: status %d, want 403", resp.StatusCode)
	}
	var nb map[string]any
	getJSON(t, base+"/api/contents/sandbox.ipynb?token="+token, &nb)
	if nb["type"] != "notebook" {
		t.Errorf("sandbox.ipynb: %v", nb["type"])
	}
	e.stopTimed("expert mode (Jupyter)")
}

// Bash mode on a pseudo-terminal: a shell in the real image, the model's
// folder mounted, its exit status ours.
func TestRealEngine_Bash(t *testing.T) {
	e := newEnv(t)
	e.must("pull", e.Model)
	ptmx, out, p := e.pty(30, 100, "run", "-b", e.Model)
	waitFor(t, out, regexp.MustCompile(`[#$] $`), 2*time.Minute)
	io.WriteString(ptmx, "python3 -c 'import modelhubapi, numpy, PIL; print(\"engine\", \"ok\")'; ls /contrib_src/model\r")
	waitFor(t, out, regexp.MustCompile(`engine ok`), 30*time.Second)
	waitFor(t, out, regexp.MustCompile(`weights\.bin`), 10*time.Second)
	io.WriteString(ptmx, "exit 3\r")
	if code := p.Wait(t, time.Minute); code != 3 {
		t.Errorf("exit code %d, want 3\n%s", code, out)
	}
	if n := len(e.Containers()); n != 0 {
		t.Errorf("%d containers left after the shell ended", n)
	}
}

// `modelhub test` and `modelhub validate` pass the model on the real engine.
func TestRealEngine_TestAndValidate(t *testing.T) {
	e := newEnv(t)
	e.must("pull", e.Model)
	v := e.must("validate", e.Model)
	if !strings.Contains(v.Stdout, "PASSED") {
		t.Errorf("validate:\n%s", v)
	}
	r := e.must("test", e.Model)
	if !strings.Contains(r.Stdout, "PASSED") {
		t.Errorf("test:\n%s", r)
	}
	t.Logf("modelhub test took %s", r.Took.Round(time.Millisecond))
	if n := len(e.Containers()); n != 0 {
		t.Errorf("%d containers left after test", n)
	}
	fmt.Fprint(io.Discard, r.Stdout)
}
