package webui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The browser tests drive headless Chromium through the pages. They skip
// loudly without Chromium, and fail without it when MODELHUB_REQUIRE_BROWSER=1
// (CI). Screenshots go to $MODELHUB_SCREENSHOTS (default a temporary folder).

// startUI serves s on a free port of 127.0.0.1 until the test ends and
// returns the port.
func startUI(t testing.TB, s *Server) int {
	t.Helper()
	l, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return Port(l)
}

func TestBrowser_outputsByType(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	e := newFakeEngine(t)
	mask := make([][]int, 48)
	heat := make([][]float64, 48)
	for y := range mask {
		mask[y], heat[y] = make([]int, 64), make([]float64, 64)
		for x := range mask[y] {
			if (x-32)*(x-32)+(y-24)*(y-24) < 150 {
				mask[y][x] = 1
			}
			heat[y][x] = float64(x*y) / (64 * 48)
		}
	}
	vec := make([]float64, 150)
	for i := range vec {
		vec[i] = float64(i) / 4
	}
	e.predict = func(name string, data []byte) (int, any) {
		switch name {
		case "cat.png":
			return 200, prediction(
				map[string]any{"name": "probabilities", "type": "label_list", "shape": []int{3}, "prediction": []map[string]any{
					{"label": "dog", "probability": 0.15}, {"label": "cat", "probability": 0.8}, {"label": "fox", "probability": 0.05}}},
				map[string]any{"name": "features", "type": "vector", "shape": []int{150}, "prediction": vec},
				map[string]any{"name": "segmentation", "type": "mask_image", "shape": []int{48, 64}, "prediction": mask},
				map[string]any{"name": "saliency", "type": "heatmap", "shape": []int{48, 64}, "prediction": heat},
				map[string]any{"name": "extra", "type": "custom", "shape": []int{1}, "prediction": map[string]any{"nested": []int{1, 2}}},
				map[string]any{"name": "volume", "type": "image", "shape": []int{2, 2, 2}, "prediction": "http://127.0.0.1:1/api/output/2026-01-01.h5"},
			)
		case "scan.nii.gz":
			return 400, map[string]string{"error": "cannot read nifti <b>here</b>"}
		}
		return 200, labelPrediction("upload:"+name, 0.9, "other", 0.1)
	}
	port := startUI(t, &Server{Models: Fixed(Model{Name: "fake", Mode: "api", APIURL: e.URL()})})

	testutil.BrowserDo(t, ctx, "open the page", chromedp.Navigate(URL(port, "fake")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
	if got := testutil.BrowserText(t, ctx, "#model-name"); got != "Fake<Net>" {
		t.Errorf("model name %q", got)
	}
	// the inlined style passed the Content-Security-Policy
	if got := testutil.BrowserEval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); got != "rgb(244, 246, 249)" {
		t.Errorf("the page's style is not applied (CSP?): body background %q", got)
	}

	testutil.BrowserDo(t, ctx, "run on a sample", chromedp.Click(chromedp.CSS(`.sample[data-name="cat.png"]`)))
	testutil.AwaitRun(t, ctx, "done")
	if got := testutil.BrowserText(t, ctx, `.out[data-type="label_list"] .label`); got != "cat" {
		t.Errorf("top label %q, want cat", got)
	}
	if got := testutil.BrowserText(t, ctx, `.out[data-type="label_list"] .pct`); got != "80.0 %" {
		t.Errorf("top percentage %q", got)
	}
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('.out[data-type="vector"] tr').length`); n != 21 {
		t.Errorf("the vector table has %d rows, want 21 (header and the first 20)", n)
	}
	if !testutil.BrowserEval[bool](t, ctx, `!!document.querySelector('.out[data-type="mask_image"] .stack img[src="api/samples/cat.png"] + canvas.over')`) {
		t.Errorf("the mask is not drawn over the input image")
	}
	if !testutil.BrowserEval[bool](t, ctx, `!!document.querySelector('.out[data-type="heatmap"] .stack canvas.over')`) {
		t.Errorf("the heatmap is not drawn over the input image")
	}
	if got := testutil.BrowserText(t, ctx, `.out[data-type="custom"] pre`); !strings.Contains(got, `"nested": [`) {
		t.Errorf("custom output %q", got)
	}
	if got := testutil.BrowserEval[string](t, ctx, `document.querySelector('.out[data-type="image"] a').getAttribute("href")`); got != "api/output/2026-01-01.h5" {
		t.Errorf("a saved output links to %q, want it through the UI", got)
	}
	if got := testutil.BrowserText(t, ctx, "#status"); !strings.Contains(got, "Latency model: 12 ms, round trip:") {
		t.Errorf("status %q", got)
	}
	if got := testutil.BrowserEval[string](t, ctx, `document.getElementById("raw").textContent`); !strings.Contains(got, `"processing_time": 0.012`) {
		t.Errorf("raw JSON %q", got)
	}
	testutil.Screenshot(t, ctx, shots, "outputs")
	testutil.BrowserDo(t, ctx, "show all values", chromedp.Click(chromedp.CSS(`.out[data-type="vector"] button`)))
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('.out[data-type="vector"] tr').length`); n != 151 {
		t.Errorf("the whole vector table has %d rows, want 151", n)
	}

	// an engine error is shown as the engine worded it (as text, not HTML)
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "run on the second sample", chromedp.Click(chromedp.CSS(`.sample[data-name="scan.nii.gz"]`)))
	testutil.AwaitRun(t, ctx, "error")
	if got := testutil.BrowserText(t, ctx, "#error"); got != "The engine reported an error: cannot read nifti <b>here</b>" {
		t.Errorf("error %q", got)
	}
	testutil.Screenshot(t, ctx, shots, "error")

	// a picked file is uploaded and predicted
	file := filepath.Join(t.TempDir(), "mine.png")
	if err := os.WriteFile(file, []byte("\x89PNG fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload a file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	testutil.AwaitRun(t, ctx, "done")
	if got := testutil.BrowserText(t, ctx, `.out .label`); got != "upload:mine.png" {
		t.Errorf("top label after an upload %q", got)
	}
}

func TestBrowser_demoEngine(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	c := testutil.Docker(t)
	shots := testutil.ScreenshotDir(t)
	img := testutil.DemoImage(t, c)
	api := testutil.StartEngine(t, c, img, filepath.Join(testutil.DemoModelDir(t), "contrib_src"))
	port := startUI(t, &Server{Models: Fixed(Model{Name: "demo", Mode: "api", APIURL: api}), Single: "demo"})
	testutil.BrowserCheck(t, ctx, URL(port, ""), shots, testutil.BrowserExpect{Name: "demo", Sample: "dark.png", TopLabel: "dark", Upload: filepath.Join(testutil.DemoModelDir(t), "contrib_src", "sample_data", "bright.png"), UploadTopLabel: "bright"})
}

func TestBrowser_multiInput(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["application/nii-gzip"]}, "flair": {"format": ["application/nii-gzip"]}},
	 "output": [{"name": "volume", "type": "vector", "description": "sizes"}]}`
	contrib := t.TempDir()
	e.predict = func(name string, data []byte) (int, any) {
		var spec map[string]json.RawMessage
		if err := json.Unmarshal(data, &spec); err != nil {
			return 400, map[string]string{"error": "not a JSON of inputs: " + err.Error()}
		}
		var sizes []float64
		for _, in := range []string{"flair", "t1"} {
			var v struct {
				FileURL string `json:"fileurl"`
			}
			_ = json.Unmarshal(spec[in], &v)
			b, err := os.ReadFile(filepath.Join(contrib, strings.TrimPrefix(v.FileURL, "/contrib_src/")))
			if err != nil {
				return 400, map[string]string{"error": err.Error()}
			}
			sizes = append(sizes, float64(len(b)))
		}
		return 200, prediction(map[string]any{"name": "volume", "type": "vector", "shape": []int{2}, "prediction": sizes})
	}
	port := startUI(t, &Server{Models: Fixed(Model{Name: "mi", Mode: "api", APIURL: e.URL(), ContribSrc: contrib})})
	dir := t.TempDir()
	files := map[string]string{}
	for name, size := range map[string]int{"t1": 3, "flair": 5} {
		files[name] = filepath.Join(dir, name+".nii.gz")
		if err := os.WriteFile(files[name], []byte(strings.Repeat("x", size)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testutil.BrowserDo(t, ctx, "open the page", chromedp.Navigate(URL(port, "mi")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="t1"]`), []string{files["t1"]}),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="flair"]`), []string{files["flair"]}),
		chromedp.Click(chromedp.CSS(`#multi button[type="submit"]`)))
	testutil.AwaitRun(t, ctx, "done")
	// flair (5 bytes) and t1 (3 bytes) reached the engine as the files of their inputs
	if got := testutil.BrowserEval[string](t, ctx, `Array.from(document.querySelectorAll('.out[data-type="vector"] td')).map(function(td){return td.textContent}).join(" ")`); got != "0 5 1 3" {
		t.Errorf("vector cells %q, want \"0 5 1 3\"", got)
	}
	testutil.Screenshot(t, ctx, shots, "multi")
	if entries, _ := os.ReadDir(contrib); len(entries) != 0 {
		t.Errorf("uploads left in the model folder: %v", entries)
	}
}
