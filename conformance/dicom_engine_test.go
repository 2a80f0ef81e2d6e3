package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// A NIfTI model (testdata/dicommask: one volume key, returns a mask) on the real
// engine, from a DICOM folder: two JPEG Lossless series and a localizer; each
// series is converted to NIfTI on the fly and becomes one case; the engine reads
// it through its SimpleITK stand-in (nibabel), and the mask comes back in
// SimpleITK's [z, y, x] order with the tissue rows where the DICOM has them.
// No planted patient data reaches any output.
func TestRealEngine_PredictDICOMSeries(t *testing.T) {
	e := newEnv(t)
	model := e.localModel(t, "dicommask", "-mask")
	in := t.TempDir()
	// rows 0-3 tissue (40 HU), rows 4-7 air (-1000 HU)
	tissue := func(i, j, k int) int {
		if j < 4 {
			return 1064
		}
		return 24
	}
	for _, s := range []dicomtest.Series{
		{TransferSyntax: dicomtest.JPEGLL14, StudyUID: "1.2.826.9", SeriesUID: "1.2.826.9.1", Description: "Chest 5mm", SeriesNumber: 2,
			Rows: 8, Columns: 6, Slices: 7, SliceSpacing: 5, PixelSpacing: [2]float64{0.7, 0.7}, RescaleSlope: 1, RescaleIntercept: -1024, Value: tissue},
		{TransferSyntax: dicomtest.JPEGLLSV1, StudyUID: "1.2.826.9", SeriesUID: "1.2.826.9.2", Description: "Chest cor", SeriesNumber: 3,
			Rows: 8, Columns: 6, Slices: 4, Orientation: [6]float64{1, 0, 0, 0, 0, -1}, RescaleSlope: 1, RescaleIntercept: -1024, Value: tissue},
	} {
		if _, err := s.Write(filepath.Join(in, "export", s.SeriesUID), "IM"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", model, filepath.Join(in, "export"), "-o", out, "--json")
	if r.Code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	mustMatch(t, "stderr", `(?m)^2 done now, 0 done before, 0 failed, 0 unsupported$`, r.Stderr)
	mustMatch(t, "stdout", `"input":"Chest_5mm_[0-9a-f]{8}",.*"dicom":\[\{"input":"image",.*"series_instance_uid":"1.2.826.9.1",.*"conversion":"DICOM to NIfTI-1 \(6x8x7 uint16.*"status":"ok"`, r.Stdout)
	mustMatch(t, "stdout", `"shape":\[7,8,6\]`, r.Stdout)
	mustMatch(t, "stdout", `"shape":\[4,8,6\]`, r.Stdout)
	for _, v := range []string{"SECRET", "PLANTED", "90210", "19010203"} {
		if strings.Contains(r.Stdout+r.Stderr, v) {
			t.Fatalf("patient data %q in the output", v)
		}
	}
	masks, _ := filepath.Glob(filepath.Join(out, "*", "mask.h5"))
	if len(masks) != 2 {
		t.Fatalf("masks: %v", masks)
	}
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil || exec.Command("/usr/bin/python3", "-c", "import h5py").Run() != nil {
		t.Logf("python3-h5py missing: the masks' voxels are not checked")
		return
	}
	for _, m := range masks {
		// tissue in rows (y) 0-3 of every slice: the [z, y, x] mask has it there
		o, err := exec.Command("/usr/bin/python3", "-c", `import h5py, sys, numpy as np
f = h5py.File(sys.argv[1], "r"); m = np.asarray(f["mask"])
assert m[:, :4, :].all() and not m[:, 4:, :].any(), m
print(m.shape)`, m).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %s", m, o)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
	prov, _ := os.ReadFile(filepath.Join(out, "provenance.json"))
	for _, v := range []string{"SECRET", "PLANTED", "90210", "19010203"} {
		if strings.Contains(string(data)+string(prov), v) {
			t.Fatalf("patient data %q in results or provenance", v)
		}
	}
	mustMatch(t, "provenance", `"dicom_series": \[`, string(prov))
}
