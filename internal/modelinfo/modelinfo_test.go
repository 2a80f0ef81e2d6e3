package modelinfo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

func f(v float64) *float64 { return &v }

func TestDimsText(t *testing.T) {
	for _, tc := range []struct {
		ds   []Dim
		want string
	}{
		{nil, ""},
		{[]Dim{{Min: f(1), Max: f(4)}, {Min: f(32)}, {Max: f(9)}, {}}, "4 dimensions: 1–4 × ≥32 × ≤9 × any"},
		{[]Dim{{Min: f(240), Max: f(240)}}, "1 dimension: 240"},
	} {
		if got := DimsText(tc.ds); got != tc.want {
			t.Errorf("DimsText(%v) = %q, want %q", tc.ds, got, tc.want)
		}
	}
}

// The real configs (../shared/modelhub-data): squeezenet's single input and
// deepscan-brats' four named inputs.
func TestDescribeRealConfigs(t *testing.T) {
	data, _ := filepath.Abs("../../../shared/modelhub-data/models")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real modelhub data not found at %s", data)
	}
	for name, want := range map[string]struct {
		inputs  int
		first   string
		outType string
	}{
		"squeezenet":     {1, "3 dimensions: 1–4 × ≥32 × ≥32", "label_list"},
		"deepscan-brats": {4, "3 dimensions: 155–240 × 155–240 × 155–240", "image"},
	} {
		dir := t.TempDir()
		cfg, err := os.ReadFile(filepath.Join(data, name, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "contrib_src", "model"), 0o755)
		os.WriteFile(filepath.Join(dir, ConfigPath), cfg, 0o644)
		m := &store.Model{Name: name, Dir: dir, Manifest: &store.Manifest{Complete: true, Commit: "abc", DockerID: "img:1",
			Index: "https://example.invalid/models.json", Entry: registry.Entry{Name: name, GPU: name == "deepscan-brats"}}}
		in := Describe(m)
		if in.Source != "installed" || in.Commit != "abc" || in.Image != "img:1" || in.Index != "https://example.invalid/models.json" {
			t.Errorf("%s: %+v", name, in)
		}
		if len(in.Inputs) != want.inputs || DimsText(in.Inputs[0].Dimensions) != want.first {
			t.Errorf("%s: inputs %+v", name, in.Inputs)
		}
		if len(in.Outputs) != 1 || in.Outputs[0].Type != want.outType {
			t.Errorf("%s: outputs %+v", name, in.Outputs)
		}
		if in.GPU != (name == "deepscan-brats") {
			t.Errorf("%s: gpu %v", name, in.GPU)
		}
	}
}
