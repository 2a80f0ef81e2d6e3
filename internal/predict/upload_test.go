package predict

import (
	"archive/zip"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/nifti"
	"github.com/modelhub-ai/modelhub/internal/safezip"
)

// zipDir zips the files of dir (names relative to it) into a new file.
func zipDir(t *testing.T, dir string, extra map[string]string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "series.zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

func TestConvertUpload(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cr := filepath.Join(dir, "cr")
	px := make([]int, 24)
	for i := range px {
		px[i] = 40 * (i % 4)
	}
	os.MkdirAll(cr, 0o755)
	if err := dicomtest.WriteFile(filepath.Join(cr, "IM0001"), dicomtest.Image{StudyUID: "1.2", SeriesUID: "1.2.1", Description: "Chest PA", Modality: "CR",
		Rows: 6, Columns: 4, NoGeometry: true, WindowCenter: 100, WindowWidth: 50, Pixels: px}); err != nil {
		t.Fatal(err)
	}
	ct := filepath.Join(dir, "ct")
	writeDICOM(t, ct, dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.2", Description: "Head", Rows: 4, Columns: 5, Slices: 6, SeriesNumber: 2})
	one := filepath.Join(cr, "IM0001")
	stage := func() string { d := t.TempDir(); return d }

	// one DICOM image for a PNG model: a PNG through its own window
	c, err := ConvertUpload(ctx, []string{"image/png", "image/jpeg"}, one, "IM0001.dcm", UploadOptions{Stage: stage()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	im, err := png.Decode(f)
	f.Close()
	if err != nil || im.Bounds().Dx() != 4 || im.Bounds().Dy() != 6 || c.Type != "image/png" {
		t.Fatalf("%v %v %+v", err, im.Bounds(), c)
	}
	if !strings.Contains(c.Note, `"Chest PA" (CR, 1 slice(s)): DICOM to PNG, window from the image (center 100 width 50)`) || c.Origin.SeriesInstanceUID != "1.2.1" {
		t.Errorf("note %q origin %+v", c.Note, c.Origin)
	}

	// a zipped series for a NIfTI model: one volume; the other series left out
	z := zipDir(t, dir, map[string]string{"README.txt": "not DICOM"})
	c, err = ConvertUpload(ctx, []string{filetype.NIIGzip}, z, "study.zip", UploadOptions{Stage: stage()})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := nifti.ReadFile(c.Path)
	if err != nil || vol.Dims != [3]int{5, 4, 6} || c.Type != filetype.NIIGzip {
		t.Fatalf("%v %+v", err, c)
	}
	if !strings.Contains(c.Note, `"Head" (CT, 6 slice(s)): DICOM to NIfTI-1`) || !strings.Contains(c.Note, "1 other series left out") {
		t.Errorf("note %q", c.Note)
	}

	// the same zip for a PNG model takes the one 2D image
	c, err = ConvertUpload(ctx, []string{"image/png"}, z, "study.zip", UploadOptions{Stage: stage()})
	if err != nil || c.Origin.SeriesInstanceUID != "1.2.1" {
		t.Fatalf("%v %+v", err, c)
	}

	// two usable series: say which, and what to upload
	writeDICOM(t, filepath.Join(dir, "ct2"), dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.3", Description: "Neck", Rows: 4, Columns: 5, Slices: 3, SeriesNumber: 3})
	z2 := zipDir(t, dir, nil)
	_, err = ConvertUpload(ctx, []string{filetype.NIIGzip}, z2, "study.zip", UploadOptions{Stage: stage()})
	if err == nil || !strings.Contains(err.Error(), "it holds 2 series the model can take (") || !strings.Contains(err.Error(), `"Neck" (CT, 3 slice(s))`) ||
		!strings.HasSuffix(err.Error(), "upload a zip of the files of one series") {
		t.Errorf("error %v", err)
	}

	// a volume for a 2D model: why it cannot be used
	zct := zipDir(t, ct, nil)
	_, err = ConvertUpload(ctx, []string{"image/png"}, zct, "ct.zip", UploadOptions{Stage: stage()})
	if err == nil || !strings.Contains(err.Error(), "no series the model can take (series ") || !strings.Contains(err.Error(), "6 slices; the model takes 2D images") {
		t.Errorf("error %v", err)
	}

	// a zip bigger than the limits is refused, with what to do
	_, err = ConvertUpload(ctx, []string{filetype.NIIGzip}, z, "study.zip", UploadOptions{Stage: stage(), Zip: safezip.Limits{Total: 1000}})
	if err == nil || !errors.Is(err, safezip.ErrRefused) || !strings.Contains(err.Error(), "zip the files of one DICOM series") {
		t.Errorf("error %v", err)
	}

	// a zip without DICOM
	zn := zipDir(t, t.TempDir(), map[string]string{"a.txt": "x"})
	_, err = ConvertUpload(ctx, []string{filetype.NIIGzip}, zn, "notes.zip", UploadOptions{Stage: stage()})
	if err == nil || !strings.Contains(err.Error(), "it holds no DICOM image (1 file(s) looked at): upload a DICOM file or a zip") {
		t.Errorf("error %v", err)
	}

	// not DICOM, or a model that takes DICOM itself: nothing to convert
	pngFile := filepath.Join(t.TempDir(), "a.png")
	os.WriteFile(pngFile, []byte("\x89PNG\r\n\x1a\nrest"), 0o644)
	if _, err := ConvertUpload(ctx, []string{"image/png"}, pngFile, "a.png", UploadOptions{Stage: stage()}); !errors.Is(err, ErrNotConvertible) {
		t.Errorf("a PNG: %v", err)
	}
	if _, err := ConvertUpload(ctx, []string{filetype.DICOM}, one, "x.dcm", UploadOptions{Stage: stage()}); !errors.Is(err, ErrNotConvertible) {
		t.Errorf("a DICOM model: %v", err)
	}
	// no planted patient data in any note or error
	for _, s := range []string{c.Note, err.Error()} {
		if strings.Contains(s, dicomtest.PatientName) || strings.Contains(s, dicomtest.PatientID) {
			t.Errorf("patient data in %q", s)
		}
	}
}
