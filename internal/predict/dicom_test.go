package predict

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

func writeDICOM(t *testing.T, dir string, s dicomtest.Series) {
	t.Helper()
	if _, err := s.Write(dir, "im"); err != nil {
		t.Fatal(err)
	}
}

// A NIfTI model with one volume key takes a DICOM folder directly: one case per
// usable series, converted to .nii.gz, named by description and UID hash.
func TestCollectDICOMVolumeCases(t *testing.T) {
	dir := t.TempDir()
	writeDICOM(t, filepath.Join(dir, "pacs", "a"), dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.1", Description: "Head", Rows: 4, Columns: 5, Slices: 6, SeriesNumber: 1})
	writeDICOM(t, filepath.Join(dir, "pacs", "b"), dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.2", Description: "Tiny", Rows: 4, Columns: 5, Slices: 2, SeriesNumber: 2})
	spec := &Spec{Formats: []string{filetype.JSON}, Inputs: []NamedInput{{Name: "image", Formats: []string{filetype.NIIGzip}}}}
	rules, _ := dicom.ParseRules([]string{"min-slices=3"})
	stage := t.TempDir()
	coll, err := Collect(spec, Request{Args: []string{filepath.Join(dir, "pacs")}, DICOM: &DICOMOptions{Stage: stage, Rules: rules}})
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Items) != 1 || len(coll.Series) != 2 || coll.Series[1].Selected || coll.Series[1].Reason != "2 slices, fewer than 3" {
		t.Fatalf("%+v", coll)
	}
	it := coll.Items[0]
	if !strings.HasPrefix(it.Name, "Head_") || len(it.Case) != 1 || it.Case[0].Input != "image" || it.Case[0].Type != filetype.NIIGzip ||
		!strings.HasPrefix(it.Case[0].Path, stage) || it.Origins[0].SeriesInstanceUID != "1.1.1" || !strings.Contains(it.Origins[0].Conversion, "NIfTI-1") {
		t.Fatalf("%+v", it)
	}
	im, err := nifti.ReadFile(it.Case[0].Path)
	if err != nil || im.Dims != [3]int{5, 4, 6} {
		t.Fatalf("%v %+v", err, im)
	}
	// the single-input route leaves a model that takes DICOM itself alone
	spec = &Spec{Formats: []string{filetype.DICOM}}
	coll, err = Collect(spec, Request{Args: []string{filepath.Join(dir, "pacs")}, DICOM: &DICOMOptions{Stage: stage}})
	if err != nil || len(coll.Items) != 8 || coll.Items[0].Type != filetype.DICOM {
		t.Fatalf("%v %+v", err, coll)
	}
}

// A model without a NIfTI or image input ignores the DICOM route: the files are
// skipped by type as before.
func TestCollectDICOMNotForThisModel(t *testing.T) {
	dir := t.TempDir()
	writeDICOM(t, dir, dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.1", Rows: 2, Columns: 2, Slices: 1})
	os.WriteFile(filepath.Join(dir, "x.npy"), []byte("\x93NUMPY"), 0o644)
	spec := &Spec{Formats: []string{"application/octet-stream"}}
	coll, err := Collect(spec, Request{Args: []string{dir}, DICOM: &DICOMOptions{Stage: t.TempDir()}})
	if err != nil || len(coll.Series) != 0 {
		t.Fatalf("%v %+v", err, coll)
	}
}

// A NIfTI file given to a model with one volume key passes through as a case;
// a broken one is refused before anything starts.
func TestCollectNIfTIPassThrough(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "scan.nii.gz")
	im := &nifti.Image{Dims: [3]int{2, 2, 2}, Datatype: nifti.DTUint8, Data: make([]byte, 8), Affine: [4][4]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}}
	if err := nifti.WriteFile(p, im); err != nil {
		t.Fatal(err)
	}
	spec := &Spec{Formats: []string{filetype.JSON}, Inputs: []NamedInput{{Name: "image", Formats: []string{filetype.NIIGzip}}}}
	coll, err := Collect(spec, Request{Args: []string{p}, DICOM: &DICOMOptions{Stage: t.TempDir()}})
	if err != nil || len(coll.Items) != 1 || coll.Items[0].Case[0].Path != p || coll.Items[0].Name != "scan" {
		t.Fatalf("%v %+v", err, coll)
	}
	bad := filepath.Join(dir, "bad.nii.gz")
	os.WriteFile(bad, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0o644)
	if _, err := Collect(spec, Request{Args: []string{bad}, DICOM: &DICOMOptions{Stage: t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "NIfTI") {
		t.Fatalf("broken NIfTI: %v", err)
	}
}
