package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/report"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// drawWithReport is the PreviewFunc modelhub itself uses (cmd/cli).
func drawWithReport(ctx context.Context, path, kind string) (*Preview, error) {
	pngs, names, blank, err := report.OutputPNG(path, kind, ndarray.Limits{})
	if err != nil {
		return nil, err
	}
	p := &Preview{Blank: blank}
	for i := range pngs {
		p.Planes = append(p.Planes, PreviewPlane{Name: names[i], PNG: pngs[i]})
	}
	return p, nil
}

// npyU8 is a uint8 .npy of shape h×w holding data.
func npyU8(h, w int, data []byte) []byte {
	hd := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d), }", h, w)
	for (10+len(hd)+1)%64 != 0 {
		hd += " "
	}
	hd += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hd)), byte(len(hd)>>8))
	return append(append(b, hd...), data...)
}

func h5Mask(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("..", "ndarray", "testdata", "mask_contiguous.h5"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServePreview(t *testing.T) {
	e := newFakeEngine(t)
	e.outputs = map[string][]byte{"seg.h5": h5Mask(t), "blank.npy": npyU8(2, 3, make([]byte, 6)), "junk.h5": []byte("\x89HDF\r\n\x1a\nnot really")}
	s := &Server{Models: Fixed(Model{Name: "fake", Mode: "api", APIURL: e.URL()}), Preview: drawWithReport}
	get := func(q string) (int, map[string]any) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8800/m/fake/_ui/preview?"+q, nil)
		s.Handler(8800).ServeHTTP(w, r)
		var v map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &v)
		return w.Code, v
	}
	code, v := get("file=seg.h5&kind=mask")
	planes, _ := v["planes"].([]any)
	if code != 200 || len(planes) != 1 || v["blank"] != false || !strings.HasPrefix(planes[0].(map[string]any)["src"].(string), "data:image/png;base64,iVBOR") {
		t.Fatalf("seg.h5: %d %v", code, v)
	}
	if code, v := get("file=blank.npy&kind=mask"); code != 200 || v["blank"] != true {
		t.Errorf("blank mask: %d %v", code, v)
	}
	if code, v := get("file=junk.h5&kind=mask"); code != 422 || !strings.Contains(fmt.Sprint(v["error"]), "cannot draw junk.h5") {
		t.Errorf("junk: %d %v", code, v)
	}
	for _, q := range []string{"file=../etc/passwd&kind=mask", "file=a/b&kind=mask", "file=seg.h5&kind=evil", "file=&kind=mask"} {
		if code, _ := get(q); code != 400 {
			t.Errorf("%s: %d", q, code)
		}
	}
	if code, _ := get("file=missing.h5&kind=mask"); code != 502 {
		t.Errorf("missing output: %d", code)
	}
	s.Preview = nil
	if code, _ := get("file=seg.h5&kind=mask"); code != 501 {
		t.Errorf("no PreviewFunc: %d", code)
	}
}

// A mask the engine saved as .h5 (written by h5py) is drawn by modelhub and
// laid over the sample it was predicted on, with the opacity slider; the
// input is shown beside every result; an uploaded image gets the same, and
// a blank mask is said to be blank.
func TestBrowser_maskOverInput(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["image/png"]}, "output": [{"name": "labels", "type": "label_list"}, {"name": "Segmentation", "type": "mask_image"}]}`
	e.outputs = map[string][]byte{"seg.h5": h5Mask(t), "blank.npy": npyU8(4, 4, make([]byte, 16))}
	host := strings.TrimPrefix(e.URL(), "http://")
	e.predict = func(name string, data []byte) (int, any) {
		out := "seg.h5"
		if name != "cat.png" {
			out = "blank.npy"
		}
		return 200, prediction(
			map[string]any{"name": "labels", "type": "label_list", "shape": []int{2}, "prediction": []map[string]any{{"label": "lesion", "probability": 0.7}, {"label": "none", "probability": 0.3}}},
			map[string]any{"name": "Segmentation", "type": "mask_image", "shape": []int{6, 5}, "prediction": "http://" + host + "/api/output/" + out})
	}
	port := startUI(t, &Server{Models: Fixed(Model{Name: "fake", Mode: "api", APIURL: e.URL()}), Preview: drawWithReport})
	testutil.BrowserDo(t, ctx, "open the page", chromedp.Navigate(URL(port, "fake")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.Click(chromedp.CSS(`.sample[data-name="cat.png"]`)))
	testutil.AwaitRun(t, ctx, "done")
	overlay := `.out[data-type="mask_image"] .stack img.base[src="api/samples/cat.png"] + img.over[src^="data:image/png;base64,"]`
	testutil.BrowserDo(t, ctx, "the mask is drawn", chromedp.Query(chromedp.CSS(overlay)))
	if !testutil.BrowserEval[bool](t, ctx, `(function(){ var i = document.querySelector('`+overlay+`'); return i.complete && i.naturalWidth === 5 && i.naturalHeight === 6; })()`) {
		t.Error("the h5 mask's picture is not 5×6")
	}
	if !testutil.BrowserEval[bool](t, ctx, `!!document.querySelector('.out[data-type="input"] img[src="api/samples/cat.png"]')`) {
		t.Error("the input is not shown beside the result")
	}
	testutil.BrowserDo(t, ctx, "move the slider", chromedp.Evaluate[chromedp.Void](`var r = document.querySelector('.out[data-type="mask_image"] input.opacity'); r.value = "90"; r.dispatchEvent(new Event("input"))`))
	if o := testutil.BrowserEval[string](t, ctx, `document.querySelector('`+overlay+`').style.opacity`); o != "0.9" {
		t.Errorf("overlay opacity %q after the slider moved to 90", o)
	}
	testutil.Screenshot(t, ctx, shots, "mask-over-sample")

	// an upload: its picture under the result, the blank mask said so
	file := filepath.Join(t.TempDir(), "mine.png")
	if err := os.WriteFile(file, []byte(pngOf(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
	testutil.AwaitRun(t, ctx, "done")
	testutil.BrowserDo(t, ctx, "the blank note", chromedp.Query(chromedp.CSS(`.out[data-type="mask_image"] .blank`)))
	if got := testutil.BrowserText(t, ctx, `.out[data-type="mask_image"] .blank`); got != "The mask is blank: no pixel is labelled." {
		t.Errorf("blank note %q", got)
	}
	if !testutil.BrowserEval[bool](t, ctx, `!!document.querySelector('.out[data-type="mask_image"] .stack img.base[src^="blob:"] + img.over') && !!document.querySelector('.out[data-type="input"] img[src^="blob:"]')`) {
		t.Error("the upload is not under its mask or beside the result")
	}
	testutil.Screenshot(t, ctx, shots, "blank-mask-upload")
}

// pngOf is a small grey PNG.
func pngOf(t testing.TB) string {
	var b strings.Builder
	if err := png.Encode(&b, grey(40, 30, 90)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
