package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
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
	for _, v := range dicomtest.Planted {
		if dicomtest.HasPlanted(r.Stdout+r.Stderr, v) {
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
	for _, v := range dicomtest.Planted {
		if dicomtest.HasPlanted(string(data)+string(prov), v) {
			t.Fatalf("patient data %q in results or provenance", v)
		}
	}
	mustMatch(t, "provenance", `"dicom_series": \[`, string(prov))
}

// A model with two NIfTI keys (testdata/dicomcases: t1, flair) on the real
// engine, from a folder of DICOM case folders: each key takes the series its
// rules pick (by default its name as a word of the description; --match
// settles an ambiguous case), converted to NIfTI; a case where a key finds
// several series fails in one line naming the key and the candidates, and the
// other case runs. The engine reports each volume's slices, so the test sees
// which series reached which key.
func TestRealEngine_PredictDICOMCases(t *testing.T) {
	e := newEnv(t)
	model := e.localModel(t, "dicomcases", "-cases")
	cases := filepath.Join(t.TempDir(), "cases")
	for _, s := range []struct {
		dir string
		dicomtest.Series
	}{
		{"c1/3", dicomtest.Series{StudyUID: "1.2.826.7", SeriesUID: "1.2.826.7.3", Description: "AX T1", Modality: "MR", SeriesNumber: 3, Rows: 6, Columns: 5, Slices: 5}},
		{"c1/4", dicomtest.Series{StudyUID: "1.2.826.7", SeriesUID: "1.2.826.7.4", Description: "AX FLAIR", Modality: "MR", SeriesNumber: 4, Rows: 6, Columns: 5, Slices: 3}},
		{"c1/1", dicomtest.Series{StudyUID: "1.2.826.7", SeriesUID: "1.2.826.7.1", Description: "Localizer", Modality: "MR", SeriesNumber: 1, Rows: 6, Columns: 5, Slices: 2,
			Orientation: [6]float64{1, 0, 0, 0, 0, -1}}},
		{"c2/a", dicomtest.Series{StudyUID: "1.2.826.8", SeriesUID: "1.2.826.8.1", Description: "T1 MPRAGE", Modality: "MR", SeriesNumber: 1, Rows: 6, Columns: 5, Slices: 4}},
		{"c2/b", dicomtest.Series{StudyUID: "1.2.826.8", SeriesUID: "1.2.826.8.2", Description: "T1 POST", Modality: "MR", SeriesNumber: 2, Rows: 6, Columns: 5, Slices: 7}},
		{"c2/c", dicomtest.Series{StudyUID: "1.2.826.8", SeriesUID: "1.2.826.8.3", Description: "FLAIR", Modality: "MR", SeriesNumber: 3, Rows: 6, Columns: 5, Slices: 6}},
	} {
		if _, err := s.Write(filepath.Join(cases, filepath.FromSlash(s.dir)), "IM"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", model, cases, "-o", out)
	if r.Code != 1 {
		t.Fatalf("want exit 1 (c2 is ambiguous):\n%s", r)
	}
	mustMatch(t, "stdout", `(?m)^c1 +ok +\d+ms +t1 0.05, flair 0.03`, r.Stdout)
	mustMatch(t, "stdout", `(?m)^c2 +failed +0ms +case c2: input t1 matches 2 series \("T1 MPRAGE" [0-9a-f]{8}, "T1 POST" [0-9a-f]{8}\): narrow it with --match t1=RULES$`, r.Stdout)
	mustMatch(t, "stderr", `(?m)^1 done now, 0 done before, 1 failed, 0 unsupported$`, r.Stderr)
	prov, _ := os.ReadFile(filepath.Join(out, "provenance.json"))
	mustMatch(t, "provenance", `"series_description": "Localizer",\s+"slices": 2,\s+"selected": false,\s+"reason": "matches no input"`, string(prov))

	// a rule settles c2: its t1 is the MPRAGE (4 slices), not the post-contrast one
	out2 := filepath.Join(t.TempDir(), "out")
	r = e.run("predict", model, filepath.Join(cases, "c2"), "-o", out2, "--match", "t1=description~(?i)mprage", "--json")
	if r.Code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	mustMatch(t, "stdout", `"input":"c2",.*"dicom":\[\{"input":"flair",.*"series_description":"FLAIR",.*\},\{"input":"t1",.*"series_description":"T1 MPRAGE",.*"conversion":"DICOM to NIfTI-1 \(5x6x4 `, r.Stdout)
	mustMatch(t, "stdout", `"label":"t1","probability":0.04`, r.Stdout)
	for _, v := range dicomtest.Planted {
		if dicomtest.HasPlanted(r.Stdout+r.Stderr+string(prov), v) {
			t.Fatalf("patient data %q in the output", v)
		}
	}
}
