package dicom

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mhdicom "github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicomseg"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// needSEGTools skips (or fails, with MODELHUB_REQUIRE_DICOM=1) without the
// tools that check a SEG: dciodvfy (dicom3tools), dcmdump (dcmtk), pydicom.
func needSEGTools(t *testing.T) {
	t.Helper()
	need(t, "pydicom", "nibabel", "dcmdump", "dciodvfy", "dcm2niix")
}

// dciodvfy runs dicom3tools' IOD checker and fails on any error it reports.
func dciodvfy(t *testing.T, path string) {
	t.Helper()
	out, _ := exec.Command("dciodvfy", path).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Error") {
			t.Fatalf("dciodvfy %s:\n%s", filepath.Base(path), out)
		}
	}
	if !strings.Contains(string(out), "Segmentation") {
		t.Fatalf("dciodvfy did not check it as a Segmentation:\n%s", out)
	}
}

// SEGs written by modelhub for pydicom-made series of every orientation of
// the DICOM issue pass dciodvfy, read in dcmdump and pydicom, and put each
// frame at its source image with exactly the source's mask (pydicom), in
// world space on dcm2niix's voxels (nibabel).
func TestSEGOfPydicomSeries(t *testing.T) {
	needSEGTools(t)
	for _, c := range []string{"oblique", "colflip", "reversed", "aniso", "intercept"} {
		t.Run(c, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			run(t, python, "testdata/make_series.py", in, c, "blob")
			v, mask, segPath := writeThresholdSEG(t, in, dir)
			dciodvfy(t, segPath)
			if out := run(t, "dcmdump", segPath); !strings.Contains(out, "SegmentationStorage") {
				t.Fatalf("dcmdump:\n%s", out)
			}
			dcm2niix(t, in, filepath.Join(dir, "ref"))
			refs, _ := filepath.Glob(filepath.Join(dir, "ref", "*.nii.gz"))
			if len(refs) != 1 {
				t.Fatalf("dcm2niix wrote %v", refs)
			}
			// the NIfTI mask predict would write: the mask with the series' affine
			niftiPath := filepath.Join(dir, "mask.nii.gz")
			writeMaskNIfTI(t, niftiPath, v, mask)
			t.Log(run(t, python, "testdata/check_seg.py", in, segPath, niftiPath, refs[0]))
		})
	}
}

func writeMaskNIfTI(t *testing.T, path string, v *mhdicom.Volume, mask []byte) {
	t.Helper()
	im := &nifti.Image{Dims: v.Dims, Datatype: nifti.DTUint8, Data: mask, Affine: v.AffineRAS()}
	if err := nifti.WriteFile(path, im); err != nil {
		t.Fatal(err)
	}
}

// writeThresholdSEG writes the SEG of the one series in folder in, its
// voxels above -500 (as the conformance mask model computes), into dir.
func writeThresholdSEG(t *testing.T, in, dir string) (*mhdicom.Volume, []byte, string) {
	t.Helper()
	res, err := mhdicom.Scan(context.Background(), []string{in})
	if err != nil || len(res.Series) != 1 || res.Series[0].Err != nil {
		t.Fatalf("scan: %v %+v", err, res)
	}
	s := res.Series[0]
	v, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mask := make([]byte, v.Dims[0]*v.Dims[1]*v.Dims[2])
	for i := range mask {
		if v.Value(i) > -500 {
			mask[i] = 1
		}
	}
	src, err := dicomseg.SourceFromSeries(s)
	if err != nil {
		t.Fatal(err)
	}
	segPath := filepath.Join(dir, "mask.seg.dcm")
	f, err := os.Create(segPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := dicomseg.Write(f, src, dicomseg.Mask{Data: mask}, nil, dicomseg.Options{SeriesDescription: "modelhub conformance", Algorithm: "threshold", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	return v, mask, segPath
}

// SEGs of pydicom's real test files (a CT and an MR slice from scanners, with
// their own patient and study modules) pass dciodvfy and the pydicom check.
func TestSEGOfPydicomFiles(t *testing.T) {
	needSEGTools(t)
	need(t, "testfiles")
	for _, name := range []string{"CT_small.dcm", "MR_small.dcm"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			os.MkdirAll(in, 0o755)
			data, err := os.ReadFile(filepath.Join(pydicomFiles, name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(in, name), data, 0o644)
			_, _, segPath := writeThresholdSEG(t, in, dir)
			dciodvfy(t, segPath)
			run(t, "dcmdump", segPath)
			t.Log(run(t, python, "testdata/check_seg.py", in, segPath))
		})
	}
}
