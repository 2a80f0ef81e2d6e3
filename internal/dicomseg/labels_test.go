package dicomseg

import (
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	segs, err := ParseLabels([]byte(`{"2": {"label": "Tumour", "type": {"code": "108369006", "scheme": "SCT", "meaning": "Neoplasm"}}, "1": "Liver"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Value != 1 || segs[0].Label != "Liver" || segs[0].Type != (Code{}) ||
		segs[1].Label != "Tumour" || segs[1].Type != (Code{"108369006", "SCT", "Neoplasm"}) || segs[1].Category != (Code{}) {
		t.Fatalf("%+v", segs)
	}
	// what is not given is generic in the SEG
	if s := segmentFor(1, map[int]Segment{1: segs[0]}); s.Category != GenericCategory || s.Type != GenericType || s.Label != "Liver" {
		t.Fatalf("%+v", s)
	}
	if s := segmentFor(7, nil); s.Label != "label 7" {
		t.Fatalf("%+v", s)
	}
	for doc, want := range map[string]string{
		`[1]`:                            "want an object",
		`{"0": "x"}`:                     `key "0" is not a label value from 1 to 255`,
		`{"256": "x"}`:                   `key "256"`,
		`{"1": 5}`:                       "value 1: want a name",
		`{"1": {"type": {"code": "1"}}}`: "value 1: type needs code, scheme and meaning",
	} {
		if _, err := ParseLabels([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

func TestConfigLabels(t *testing.T) {
	c, err := ConfigLabels([]byte(`{"model": {}, "modelhub": {"segments": {"mask": {"1": "Brain", "2": "Tumour"}}}}`))
	if err != nil || len(c["mask"]) != 2 || c["mask"][1].Label != "Tumour" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := ConfigLabels([]byte(`{"modelhub": {}}`)); err != nil || len(c) != 0 {
		t.Fatalf("none: %+v %v", c, err)
	}
	if _, err := ConfigLabels([]byte(`{"modelhub": {"segments": {"mask": {"x": "y"}}}}`)); err == nil || !strings.Contains(err.Error(), "modelhub.segments.mask") {
		t.Fatalf("bad: %v", err)
	}
}
