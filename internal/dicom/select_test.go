package dicom

import (
	"errors"
	"strings"
	"testing"
)

func fakeSeries(study, uid, mod, desc, orient string, n int) *Series {
	return &Series{StudyInstanceUID: study, SeriesInstanceUID: uid, Modality: mod, Description: desc,
		Orientation: orient, Files: make([]File, n), SeriesNumber: "1"}
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules([]string{"modality=CT,description~'(?i)lung,x{1,2}'", "largest", " min-slices=50 "})
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 4 || r[1].value != "(?i)lung,x{1,2}" || r[2].key != "largest" || r[3].n != 50 {
		t.Fatalf("%+v", r)
	}
	for _, bad := range []string{"colour=red", "min-slices=x", "orientation=oblique", "description~(", "modality~CT", "'open", "nokey"} {
		if _, err := ParseRules([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSelect(t *testing.T) {
	all := []*Series{
		fakeSeries("S1", "a", "CT", "Lung 1mm", "axial", 300),
		fakeSeries("S1", "b", "CT", "LUNG 5mm", "axial", 60),
		fakeSeries("S1", "c", "CT", "Lung cor", "coronal", 400),
		fakeSeries("S1", "d", "MR", "T1 lung", "axial", 100),
		fakeSeries("S2", "e", "CT", "lung", "axial", 80),
		fakeSeries("S2", "f", "CT", "lung", "axial", 10),
	}
	all[5].Err = errors.New("uneven slice spacing")
	rules, _ := ParseRules([]string{"modality=CT", "description~'(?i)lung'", "orientation=axial", "min-slices=50", "largest"})
	got := Select(all, rules, nil)
	want := []string{"", "not the largest series of its study (60 slices; series", "orientation is coronal, not axial",
		`modality is "MR", not CT`, "", "cannot be converted: uneven slice spacing"}
	for i, d := range got {
		if d.Selected != (want[i] == "") || !strings.HasPrefix(d.Reason, want[i]) {
			t.Errorf("series %s: selected %v reason %q, want %q", d.Series.SeriesInstanceUID, d.Selected, d.Reason, want[i])
		}
	}
	// default: everything convertible the model can take
	got = Select(all, nil, func(s *Series) string {
		if s.Slices() > 100 {
			return "too big"
		}
		return ""
	})
	n := 0
	for _, d := range got {
		if d.Selected {
			n++
		}
	}
	if n != 3 || got[0].Reason != "too big" {
		t.Fatalf("%+v", got)
	}
}
