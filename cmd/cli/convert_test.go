package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

func Test_NewCmdConvert_flags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    ConvertOptions
		wantErr string
	}{
		{args: "a b -o out", want: ConvertOptions{Paths: []string{"a", "b"}, Out: "out", To: "nifti"}},
		{args: "a -o out --to png --window bone --json", want: ConvertOptions{Paths: []string{"a"}, Out: "out", To: "png", Window: "bone", JSON: true}},
		{args: "a -o out --series modality=CT --series largest", want: ConvertOptions{Paths: []string{"a"}, Out: "out", To: "nifti", Series: []string{"modality=CT", "largest"}}},
		{args: "a", wantErr: "convert needs -o DIR"},
		{args: "-o out", wantErr: "needs PATH"},
		{args: "a -o out --to nrrd", wantErr: "--to nrrd: use nifti or png"},
		{args: "a -o out --window lung", wantErr: "--window applies to --to png only"},
		{args: "a -o out --series min-slices=x", wantErr: "min-slices takes a number"},
	} {
		got := flagCase(t, NewCmdConvert, tc.args, tc.wantErr, false)
		if got == nil {
			continue
		}
		if strings.Join(got.Paths, " ") != strings.Join(tc.want.Paths, " ") || got.Out != tc.want.Out || got.To != tc.want.To ||
			got.Window != tc.want.Window || got.JSON != tc.want.JSON || strings.Join(got.Series, "|") != strings.Join(tc.want.Series, "|") {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func Test_convertRun_json(t *testing.T) {
	dir := t.TempDir()
	s := dicomtest.Series{StudyUID: "1.7", SeriesUID: "1.7.1", Description: "Ax", Rows: 4, Columns: 4, Slices: 3}
	if _, err := s.Write(filepath.Join(dir, "in"), "x"); err != nil {
		t.Fatal(err)
	}
	f, out, errOut := testFactory(t, "[]", false, 0)
	err := convertRun(context.Background(), &ConvertOptions{IO: f.IO, Paths: []string{filepath.Join(dir, "in")}, Out: filepath.Join(dir, "out"), To: "nifti", JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"series_instance_uid": "1.7.1"`, `"slices": 3`, `"error": ""`, `"selected": true`, `Ax_`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
	if strings.Contains(out.String()+errOut.String(), dicomtest.PatientName) {
		t.Fatal("patient name in the output")
	}
}
