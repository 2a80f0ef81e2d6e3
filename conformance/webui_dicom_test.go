package conformance

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// writeZip writes name -> content as a zip archive at p.
func writeZip(t *testing.T, p string, files map[string][]byte) string {
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

// The web UI `modelhub run` serves, with the real engine and the real
// binary's converter: a zipped DICOM series for one key and a single DICOM
// file for the other of a two-key NIfTI model (testdata/dicomcases) become
// NIfTI volumes the engine reads through SimpleITK, and the page says what was
// converted; a zip-slip archive is refused with what to upload, and nothing
// reaches the engine or stays in the model folder.
func TestRealEngine_WebUIDICOMUploads(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	model := e.localModel(t, "dicomcases", "-webui")
	in := t.TempDir()
	series := filepath.Join(in, "t1")
	if _, err := (dicomtest.Series{StudyUID: "1.2.826.5", SeriesUID: "1.2.826.5.1", Description: "AX T1", Modality: "MR", Rows: 6, Columns: 5, Slices: 5}).Write(series, "IM"); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	entries, _ := os.ReadDir(series)
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(series, en.Name()))
		files["export/T1/"+en.Name()] = b
	}
	t1zip := writeZip(t, filepath.Join(in, "t1.zip"), files)
	flair := filepath.Join(in, "flair")
	paths, err := (dicomtest.Series{StudyUID: "1.2.826.5", SeriesUID: "1.2.826.5.2", Description: "AX FLAIR", Modality: "MR", Rows: 6, Columns: 5, Slices: 1}).Write(flair, "IM")
	if err != nil {
		t.Fatal(err)
	}
	evil := writeZip(t, filepath.Join(in, "evil.zip"), map[string][]byte{"../../evil.dcm": files["export/T1/"+entries[0].Name()]})

	port := testutil.FreePort(t)
	p := e.start("run", "--ui-port", strconv.Itoa(port), model)
	t.Cleanup(func() { _ = p.Cmd.Process.Signal(syscall.SIGINT); p.Wait(t, time.Minute) })
	waitFor(t, p.Stdout, regexp.MustCompile(`Web UI: http://\S+`), 2*time.Minute)
	testutil.BrowserDo(t, ctx, "open the page and upload DICOM", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(port)+"/"),
		chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="t1"]`), []string{t1zip}),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="flair"]`), []string{paths[0]}),
		chromedp.Click(chromedp.CSS(`#multi button[type="submit"]`)))
	testutil.AwaitRun(t, ctx, "done")
	// the engine read t1 as 5 slices, flair as 1
	if got := testutil.BrowserText(t, ctx, ".out .label"); got != "t1" {
		t.Errorf("top label %q, want t1", got)
	}
	if got := testutil.BrowserText(t, ctx, ".out .pct"); got != "5.0 %" {
		t.Errorf("top percentage %q, want 5.0 %% (5 slices)", got)
	}
	conv := testutil.BrowserText(t, ctx, "#conversion")
	for _, want := range []string{`flair: series `, `"AX FLAIR" (MR, 1 slice(s)): DICOM to NIfTI-1 (5x6x1 `, `t1: series `, `"AX T1" (MR, 5 slice(s)): DICOM to NIfTI-1 (5x6x5 `} {
		if !strings.Contains(conv, want) {
			t.Errorf("conversion %q lacks %q", conv, want)
		}
	}
	testutil.Screenshot(t, ctx, shots, "dicom")

	testutil.ResetRun(t, ctx)
	testutil.BrowserDo(t, ctx, "upload a zip-slip archive",
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="t1"]`), []string{evil}),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="flair"]`), []string{paths[0]}),
		chromedp.Click(chromedp.CSS(`#multi button[type="submit"]`)))
	testutil.AwaitRun(t, ctx, "error")
	if msg := testutil.BrowserText(t, ctx, "#error"); !strings.HasPrefix(msg, `input t1: cannot convert evil.zip: zip refused: "../../evil.dcm" leads out of the folder (..); zip the files of one DICOM series`) {
		t.Errorf("error %q", msg)
	}
	testutil.Screenshot(t, ctx, shots, "dicom-refused")
	if _, err := os.Stat(filepath.Join(model, "contrib_src", ".modelhub-ui")); err == nil {
		t.Errorf("the staged uploads were left in the model folder")
	}
	if body := testutil.BrowserText(t, ctx, "body"); strings.Contains(body, dicomtest.PatientName) || strings.Contains(body, dicomtest.PatientID) {
		t.Errorf("patient data on the page")
	}
}
