package webui

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/nifti"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// realConvert is the converter `modelhub run` and `modelhub ui` give the
// server (cmd/cli's convertUpload): predict's DICOM conversion.
func realConvert(ctx context.Context, req ConvertRequest) (*Converted, error) {
	c, err := predict.ConvertUpload(ctx, req.Formats, req.Path, req.Name, predict.UploadOptions{Stage: req.Dir})
	if errors.Is(err, predict.ErrNotConvertible) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Converted{Path: c.Path, Type: c.Type, Note: c.Note}, nil
}

// zipFiles writes a zip of name -> content.
func zipFiles(t *testing.T, p string, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// In the browser, a DICOM file and a zipped series are converted for a 2D
// model (PNG through the image's window) and a NIfTI model (a volume), the
// page says what was done, and a hostile zip is refused with what to do.
func TestBrowser_dicomUploads(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	dir := t.TempDir()

	// a 2D model: takes PNG and JPEG
	e := newFakeEngine(t)
	var got []string
	e.predict = func(name string, data []byte) (int, any) {
		label := "not a PNG"
		if im, err := png.Decode(bytes.NewReader(data)); err == nil {
			label = name + " " + im.Bounds().Size().String()
		}
		got = append(got, label)
		return 200, labelPrediction(label, 0.9, "other", 0.1)
	}
	port := startUI(t, &Server{Models: Fixed(Model{Name: "xray", Mode: "api", APIURL: e.URL()}), Convert: realConvert})
	px := make([]int, 24*16)
	for i := range px {
		px[i] = i % 200
	}
	one := filepath.Join(dir, "IM0001") // no extension: recognised by its content
	if err := dicomtest.WriteFile(one, dicomtest.Image{StudyUID: "1.2", SeriesUID: "1.2.1", Description: "Chest PA", Modality: "CR",
		Rows: 16, Columns: 24, NoGeometry: true, WindowCenter: 100, WindowWidth: 200, Pixels: px}); err != nil {
		t.Fatal(err)
	}
	testutil.BrowserDo(t, ctx, "open the 2D model's page", chromedp.Navigate(URL(port, "xray")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
	if !strings.Contains(testutil.BrowserText(t, ctx, "#drop"), "or a DICOM file or a .zip of one DICOM series") {
		t.Errorf("the drop zone does not offer DICOM: %q", testutil.BrowserText(t, ctx, "#drop"))
	}
	testutil.BrowserDo(t, ctx, "upload a DICOM file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{one}))
	testutil.AwaitRun(t, ctx, "done")
	if label := testutil.BrowserText(t, ctx, ".out .label"); !strings.HasPrefix(label, "Chest_PA_") || !strings.HasSuffix(label, ".png (24,16)") {
		t.Errorf("the engine got %q, want the image as Chest_PA_<id>.png, 24x16", label)
	}
	conv := testutil.BrowserText(t, ctx, "#conversion")
	if !strings.HasPrefix(conv, `Converted for the model: series `) || !strings.Contains(conv, `"Chest PA" (CR, 1 slice(s)): DICOM to PNG, window from the image (center 100 width 200)`) {
		t.Errorf("conversion %q", conv)
	}
	testutil.Screenshot(t, ctx, shots, "dicom-file")

	// a zipped series (one image, in a folder, beside a text file)
	raw, _ := os.ReadFile(one)
	z := zipFiles(t, filepath.Join(dir, "export.zip"), map[string][]byte{"export/DICOM/IM0001": raw, "export/README.txt": []byte("hello")})
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload a zipped series", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{z}))
	testutil.AwaitRun(t, ctx, "done")
	if label := testutil.BrowserText(t, ctx, ".out .label"); !strings.HasSuffix(label, ".png (24,16)") {
		t.Errorf("the engine got %q", label)
	}

	// a hostile zip: refused before anything reaches the engine, and the page
	// says what to upload
	evil := zipFiles(t, filepath.Join(dir, "evil.zip"), map[string][]byte{"../../../tmp/evil": raw})
	before := len(got)
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload a zip-slip archive", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{evil}))
	testutil.AwaitRun(t, ctx, "error")
	msg := testutil.BrowserText(t, ctx, "#error")
	if !strings.HasPrefix(msg, "cannot convert evil.zip: zip refused: \"../../../tmp/evil\" leads out of the folder (..); zip the files of one DICOM series") {
		t.Errorf("error %q", msg)
	}
	if len(got) != before {
		t.Errorf("the engine was asked to predict on a refused zip")
	}
	if testutil.BrowserEval[bool](t, ctx, `!document.getElementById("conversion").hidden`) {
		t.Errorf("a refused upload shows a conversion")
	}
	testutil.Screenshot(t, ctx, shots, "dicom-refused")

	// a plain PNG still goes straight to the model
	pngFile := filepath.Join(dir, "plain.png")
	var pb bytes.Buffer
	_ = png.Encode(&pb, grey(8, 4, 9))
	_ = os.WriteFile(pngFile, pb.Bytes(), 0o644)
	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload a PNG", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{pngFile}))
	testutil.AwaitRun(t, ctx, "done")
	if label := testutil.BrowserText(t, ctx, ".out .label"); label != "plain.png (8,4)" {
		t.Errorf("the engine got %q", label)
	}
	if testutil.BrowserEval[bool](t, ctx, `!document.getElementById("conversion").hidden`) {
		t.Errorf("a PNG shows a conversion")
	}

	// a NIfTI model with one volume key: a zipped series becomes the volume
	v := newFakeEngine(t)
	v.io = `{"input": {"format": ["application/json"], "image": {"format": ["application/nii-gzip"]}}, "output": [{"name": "dims", "type": "vector"}]}`
	contrib := t.TempDir()
	v.predict = func(name string, data []byte) (int, any) {
		var spec struct {
			Image struct {
				FileURL string `json:"fileurl"`
			} `json:"image"`
		}
		if err := json.Unmarshal(data, &spec); err != nil {
			return 400, map[string]string{"error": err.Error()}
		}
		im, err := nifti.ReadFile(filepath.Join(contrib, strings.TrimPrefix(spec.Image.FileURL, "/contrib_src/")))
		if err != nil {
			return 400, map[string]string{"error": err.Error()}
		}
		return 200, prediction(map[string]any{"name": "dims", "type": "vector", "shape": []int{3}, "prediction": im.Dims[:]})
	}
	vport := startUI(t, &Server{Models: Fixed(Model{Name: "seg", Mode: "api", APIURL: v.URL(), ContribSrc: contrib}), Convert: realConvert})
	sdir := filepath.Join(dir, "series")
	if _, err := (dicomtest.Series{StudyUID: "1.3", SeriesUID: "1.3.1", Description: "AX T1", Modality: "MR", Rows: 6, Columns: 5, Slices: 7}).Write(sdir, "IM"); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	entries, _ := os.ReadDir(sdir)
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(sdir, en.Name()))
		files["T1/"+en.Name()] = b
	}
	zs := zipFiles(t, filepath.Join(dir, "t1.zip"), files)
	testutil.BrowserDo(t, ctx, "open the volume model's page", chromedp.Navigate(URL(vport, "seg")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="image"]`), []string{zs}),
		chromedp.Click(chromedp.CSS(`#multi button[type="submit"]`)))
	testutil.AwaitRun(t, ctx, "done")
	if cells := testutil.BrowserEval[string](t, ctx, `Array.from(document.querySelectorAll('.out[data-type="vector"] td')).map(function(td){return td.textContent}).join(" ")`); cells != "0 5 1 6 2 7" {
		t.Errorf("the engine read dims %q, want 5 6 7", cells)
	}
	if conv := testutil.BrowserText(t, ctx, "#conversion"); !strings.Contains(conv, `image: series `) || !strings.Contains(conv, `"AX T1" (MR, 7 slice(s)): DICOM to NIfTI-1 (5x6x7 `) {
		t.Errorf("conversion %q", conv)
	}
	testutil.Screenshot(t, ctx, shots, "dicom-volume")
	if entries, _ := os.ReadDir(contrib); len(entries) != 0 {
		t.Errorf("uploads left in the model folder: %v", entries)
	}
	// no planted patient data on the page
	if body := testutil.BrowserText(t, ctx, "body"); strings.Contains(body, dicomtest.PatientName) || strings.Contains(body, dicomtest.PatientID) {
		t.Errorf("patient data on the page")
	}
}
