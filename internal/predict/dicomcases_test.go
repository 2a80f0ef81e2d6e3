package predict

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

func bratsSpec() *Spec {
	var in []NamedInput
	for _, n := range []string{"flair", "t1", "t1c", "t2"} {
		in = append(in, NamedInput{Name: n, Formats: []string{filetype.NIIGzip}})
	}
	return &Spec{Formats: []string{filetype.JSON}, Inputs: in}
}

// writeCase writes one series per description into dir/<folder i>/, each with
// its own UIDs and slice count 3+i.
func writeCase(t *testing.T, dir, study string, descs ...string) {
	t.Helper()
	for i, d := range descs {
		writeDICOM(t, filepath.Join(dir, "s"+string(rune('a'+i))), dicomtest.Series{StudyUID: study, SeriesUID: study + "." + string(rune('1'+i)),
			Description: d, Modality: "MR", Rows: 4, Columns: 5, Slices: 3 + i, SeriesNumber: i + 1})
	}
}

func TestCollectDICOMCases(t *testing.T) {
	dir := t.TempDir()
	cohort := filepath.Join(dir, "cohort")
	writeCase(t, filepath.Join(cohort, "c1"), "1.1", "AX FLAIR", "T1_MPRAGE", "T1C", "t2 tse", "Localizer")
	writeCase(t, filepath.Join(cohort, "c2"), "1.2", "FLAIR", "T1", "T1 POST GD", "T2") // t1 ambiguous, t1c missing
	writeCase(t, filepath.Join(cohort, "c3"), "1.3", "FLAIR", "T1", "T1C")              // no t2
	stage := t.TempDir()
	coll, err := Collect(bratsSpec(), Request{Args: []string{cohort}, DICOM: &DICOMOptions{Stage: stage}})
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Items) != 3 {
		t.Fatalf("%d items: %+v", len(coll.Items), coll.Items)
	}
	c1 := coll.Items[0]
	if c1.Name != "c1" || c1.Err != nil || len(c1.Case) != 4 {
		t.Fatalf("c1: %+v", c1)
	}
	want := map[string]string{"flair": "AX FLAIR", "t1": "T1_MPRAGE", "t1c": "T1C", "t2": "t2 tse"}
	for i, cf := range c1.Case {
		o := c1.Origins[i]
		if o.Input != cf.Input || o.Description != want[cf.Input] || cf.Type != filetype.NIIGzip || !strings.HasPrefix(cf.Path, stage) {
			t.Errorf("c1 %s: %+v from %+v", cf.Input, cf, o)
		}
		if !strings.HasPrefix(cf.Source, filepath.Join(cohort, "c1", "s")) {
			t.Errorf("c1 %s: source %s, want its series folder", cf.Input, cf.Source)
		}
		if im, err := nifti.ReadFile(cf.Path); err != nil || im.Dims[2] != o.Slices {
			t.Errorf("c1 %s: %v %+v", cf.Input, err, im)
		}
	}
	var localizer *SeriesDecision
	for i, d := range coll.Series {
		if d.Description == "Localizer" {
			localizer = &coll.Series[i]
		}
	}
	if localizer == nil || localizer.Selected || localizer.Reason != "matches no input" || localizer.Source != filepath.Join(cohort, "c1") {
		t.Errorf("the localizer: %+v", localizer)
	}
	c2 := coll.Items[1].Err
	if c2 == nil || !strings.HasPrefix(c2.Error(), "case c2: ") ||
		!strings.Contains(c2.Error(), `input t1 matches 2 series ("T1" `) || !strings.Contains(c2.Error(), `"T1 POST GD" `) ||
		!strings.Contains(c2.Error(), "narrow it with --match t1=RULES") ||
		!strings.Contains(c2.Error(), `no series for input t1c (no description with the word t1c; candidates: "FLAIR" `) ||
		strings.Contains(c2.Error(), "\n") {
		t.Errorf("c2: %v", c2)
	}
	if c3 := coll.Items[2].Err; c3 == nil || !strings.Contains(c3.Error(), "case c3: no series for input t2") {
		t.Errorf("c3: %v", c3)
	}

	// rules settle c2; --series applies before them
	match := map[string][]dicom.Rule{}
	for k, v := range map[string]string{"t1": "description~(?i)^t1$", "t1c": "description~(?i)t1.*(post|gd)|^t1c$"} {
		r, err := dicom.ParseRules([]string{v})
		if err != nil {
			t.Fatal(err)
		}
		match[k] = r
	}
	coll, err = Collect(bratsSpec(), Request{Args: []string{filepath.Join(cohort, "c2")}, DICOM: &DICOMOptions{Stage: t.TempDir(), Match: match}})
	if err != nil || len(coll.Items) != 1 || coll.Items[0].Err != nil || coll.Items[0].Name != "c2" {
		t.Fatalf("%v %+v", err, coll)
	}
	for i, cf := range coll.Items[0].Case {
		if d := coll.Items[0].Origins[i].Description; cf.Input == "t1c" && d != "T1 POST GD" || cf.Input == "t1" && d != "T1" {
			t.Errorf("c2 %s took %q", cf.Input, d)
		}
	}
	rules, _ := dicom.ParseRules([]string{"min-slices=5"})
	coll, err = Collect(bratsSpec(), Request{Args: []string{filepath.Join(cohort, "c2")}, DICOM: &DICOMOptions{Stage: t.TempDir(), Match: match, Rules: rules}})
	if err != nil || coll.Items[0].Err == nil || !strings.Contains(coll.Items[0].Err.Error(), `no series for input flair (no description with the word flair; candidates: "T1 POST GD" `) {
		t.Errorf("with --series min-slices=5: %v %+v", err, coll.Items)
	}

	// one series for two inputs
	both, _ := dicom.ParseRules([]string{"description~(?i)flair"})
	m2 := map[string][]dicom.Rule{"t2": both}
	coll, _ = Collect(bratsSpec(), Request{Args: []string{filepath.Join(cohort, "c1")}, DICOM: &DICOMOptions{Stage: t.TempDir(), Match: m2}})
	if e := coll.Items[0].Err; e == nil || !strings.Contains(e.Error(), `inputs flair and t2 both match series "AX FLAIR" `) {
		t.Errorf("shared series: %v", e)
	}

	// --match is checked against the model
	if _, err := Collect(bratsSpec(), Request{Args: []string{cohort}, DICOM: &DICOMOptions{Stage: t.TempDir(), Match: map[string][]dicom.Rule{"dwi": both}}}); err == nil ||
		err.Error() != "--match dwi=…: the model has no input \"dwi\"; its inputs are flair, t1, t1c, t2" {
		t.Errorf("unknown input: %v", err)
	}
	if _, err := Collect(&Spec{Formats: []string{"image/png"}}, Request{Args: []string{cohort}, DICOM: &DICOMOptions{Stage: t.TempDir(), Match: m2}}); err == nil ||
		!strings.HasPrefix(err.Error(), "--match picks a series for each input of a model with several inputs") {
		t.Errorf("single-input model: %v", err)
	}
}

// A cohort of NIfTI case folders is still read by file names.
func TestCollectCasesWithoutDICOM(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, n := range []string{"flair", "t1", "t1c", "t2"} {
		files["p1/BraTS_"+n+".nii.gz"] = []byte("\x1f\x8b")
	}
	write(t, dir, files)
	coll, err := Collect(bratsSpec(), Request{Args: []string{dir}, DICOM: &DICOMOptions{Stage: t.TempDir()}})
	if err != nil || len(coll.Items) != 1 || coll.Items[0].Name != "p1" || len(coll.Items[0].Case) != 4 || len(coll.Series) != 0 {
		t.Fatalf("%v %+v", err, coll)
	}
}
