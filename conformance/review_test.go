package conformance

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/report"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// squarePNG is a dark w×h image with a bright square.
func squarePNG(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(30 + x)
			if x >= w/4 && x < w/2 && y >= h/4 && y < h*3/4 {
				v = 240
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A segmentation model on the real engine: its masks come back as .h5 files
// written by h5py; predict saves them under the input's stem, modelhub reads
// them (the bright square, uint8, the engine's "type" attribute), and
// report.html draws each over its input — checked in Chromium, blank mask
// included — with results.csv beside it.
func TestRealEngine_PredictMaskReport(t *testing.T) {
	e := newEnv(t)
	model := e.localModel(t, "maskmodel", "-mask")
	in := t.TempDir()
	writeFiles(t, in, map[string][]byte{"square.png": squarePNG(t, 32, 24), "dark.png": pngBytes(t, 16, 16, 10)})
	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", model, in, "-o", out)
	if r.Code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	mustMatch(t, "stdout", `(?m)^square\.png +ok +\S+ +none 0\.88, lesion 0\.12; mask_image \[24 32\] → \S+/out/square/Segmentation\.h5, \S+/out/square/Segmentation\.png$`, r.Stdout)
	mustMatch(t, "stderr", `(?m)^2 done now, 0 done before, 0 failed, 0 unsupported$`, r.Stderr)

	// the engine's .h5, as h5py wrote it, read by modelhub
	a, err := ndarray.ReadFile(filepath.Join(out, "square", "Segmentation.h5"), ndarray.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Segmentation" || a.Type.String() != "uint8" || a.Attrs["type"] != "uint8" || len(a.Shape) != 2 || a.Shape[0] != 24 || a.Shape[1] != 32 {
		t.Fatalf("mask %s %s %v attrs %v", a.Name, a.Type, a.Shape, a.Attrs)
	}
	n := 0
	for y := range 24 {
		for x := range 32 {
			in := x >= 8 && x < 16 && y >= 6 && y < 18
			if v := a.At(y*32 + x); (v == 1) != in {
				t.Fatalf("mask at %d,%d = %v", x, y, v)
			}
			if in {
				n++
			}
		}
	}
	csv, err := os.ReadFile(filepath.Join(out, predict.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	// the mask back on the image: Segmentation.png (its labels), the overlay,
	// and the label's pixels and mean grey in results.csv
	mustMatch(t, "results.csv", `(?m)^square\.png,ok,none,0\.875,square/Segmentation\.h5;square/Segmentation\.png;square/Segmentation\.overlay\.png,.*,"Segmentation 1: 96 voxels, mean 240",$`, string(csv))
	for _, f := range []string{"Segmentation.png", "Segmentation.overlay.png"} {
		im := readPNGFile(t, filepath.Join(out, "square", f))
		if b := im.Bounds(); b.Dx() != 32 || b.Dy() != 24 {
			t.Fatalf("%s is %v, want 32x24", f, b)
		}
		for y := range 24 {
			for x := range 32 {
				in := x >= 8 && x < 16 && y >= 6 && y < 18
				r, g, bl, _ := im.At(x, y).RGBA()
				if f == "Segmentation.png" && (r>>8 == 1) != in {
					t.Fatalf("%s at %d,%d = %d", f, x, y, r>>8)
				}
				if f == "Segmentation.overlay.png" && (r != g || g != bl) != in {
					t.Fatalf("%s at %d,%d: tinted %v, want %v", f, x, y, r != g || g != bl, in)
				}
			}
		}
	}

	// the report, opened from disk in Chromium
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	page := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(out, report.File))}).String()
	testutil.BrowserDo(t, ctx, "open the report", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)))
	if c := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll("#cases .card").length`); c != 2 {
		t.Fatalf("%d cards", c)
	}
	over := `.card[data-input="square.png"] .stack img.base + img.layer.mask`
	loaded := testutil.BrowserEval[bool](t, ctx, `new Promise(function (ok) {
	  var t0 = Date.now();
	  (function poll() {
	    var i = document.querySelector('`+over+`');
	    if (i && i.complete) ok(i.naturalWidth === 32 && i.naturalHeight === 24);
	    else if (Date.now() - t0 > 20000) ok(false); else setTimeout(poll, 50);
	  })();
	})`, chromedp.EvalAwaitPromise)
	if !loaded {
		t.Fatal("the .h5 mask is not drawn over square.png")
	}
	if s := testutil.BrowserText(t, ctx, `.card[data-input="dark.png"] .blank`); !strings.Contains(s, "the mask is blank") {
		t.Errorf("dark.png's blank mask: %q", s)
	}
	testutil.Screenshot(t, ctx, shots, "report")
	t.Logf("mask of %d pixels drawn over square.png", n)
}

// The web UI with the real engine's .h5 masks: an uploaded image is shown
// beside its result and the mask (an .h5 written by h5py in the container),
// drawn by modelhub, lies over it with the opacity slider.
func TestRealEngine_WebUIMaskOverlay(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	model := filepath.Join(t.TempDir(), e.Model+"-mask")
	if err := os.CopyFS(model, os.DirFS(filepath.Join("testdata", "maskmodel"))); err != nil {
		t.Fatal(err)
	}
	initJSON, _ := json.Marshal(map[string]any{"docker_id": e.Image, "external_contrib_files": []any{}})
	writeFiles(t, model, map[string][]byte{"init/init.json": initJSON})
	upload := filepath.Join(t.TempDir(), "square.png")
	if err := os.WriteFile(upload, squarePNG(t, 32, 24), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	p := e.start("run", "--ui-port", strconv.Itoa(port), model)
	t.Cleanup(func() { _ = p.Cmd.Process.Signal(syscall.SIGINT); p.Wait(t, time.Minute) })
	waitFor(t, p.Stdout, regexp.MustCompile(`Web UI: http://\S+`), 2*time.Minute)
	testutil.BrowserDo(t, ctx, "upload", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(port)+"/"),
		chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{upload}))
	testutil.AwaitRun(t, ctx, "done")
	over := `.out[data-type="mask_image"] .stack img.base[src^="blob:"] + img.over`
	testutil.BrowserDo(t, ctx, "the mask is drawn", chromedp.Query(chromedp.CSS(over)))
	if !testutil.BrowserEval[bool](t, ctx, `new Promise(function (ok) {
	  var i = document.querySelector('`+over+`');
	  (function poll() { if (i.complete) ok(i.naturalWidth === 32 && i.naturalHeight === 24); else setTimeout(poll, 50); })();
	})`, chromedp.EvalAwaitPromise) {
		t.Error("the .h5 mask is not a 32×24 picture")
	}
	if !testutil.BrowserEval[bool](t, ctx, `!!document.querySelector('.out[data-type="input"] img[src^="blob:"]') && !!document.querySelector('.out[data-type="mask_image"] input.opacity') && /\.h5$/.test(document.querySelector('.out[data-type="mask_image"] a').textContent)`) {
		t.Error("no input beside the result, no slider or no link to the .h5")
	}
	testutil.Screenshot(t, ctx, shots, "mask-overlay")
}

func readPNGFile(t *testing.T, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return im
}
