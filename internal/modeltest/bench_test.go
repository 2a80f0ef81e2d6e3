package modeltest

import (
	"encoding/json"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/config"
)

// BenchmarkValidate measures `modelhub validate` on a complete model folder.
func BenchmarkValidate(b *testing.B) {
	dir := writeModel(b, "bench")
	b.ReportAllocs()
	for b.Loop() {
		rep := &Report{}
		Validate(dir, ValidateOptions{}, rep)
		if !rep.Passed() {
			b.Fatal(rep.Checks)
		}
	}
}

// BenchmarkCheckPrediction measures the output checks on a 512x512 mask prediction.
func BenchmarkCheckPrediction(b *testing.B) {
	const n = 512
	rows := make([]any, n)
	for i := range rows {
		row := make([]any, n)
		for j := range row {
			row[j] = json.Number("1")
		}
		rows[i] = row
	}
	doc := map[string]any{"output": []any{map[string]any{
		"type": "mask_image", "prediction": rows, "shape": []any{json.Number("512"), json.Number("512")},
	}}}
	declared := []config.Output{{Name: "mask", Type: "mask_image"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckPrediction(doc, declared); err != nil {
			b.Fatal(err)
		}
	}
}
