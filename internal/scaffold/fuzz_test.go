package scaffold

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/config"
)

// FillConfig never panics; given a JSON object and a valid name it always
// succeeds, its output is JSON with id and meta.name set, and the rest of the
// document is unchanged.
func FuzzFillConfig(f *testing.F) {
	if b, err := embedded.ReadFile("template/" + ConfigPath); err == nil {
		f.Add(b, "my-model")
	}
	f.Add([]byte(`{"id": "", "meta": {"name": ""}}`), "m")
	f.Add([]byte(`{"id": 5, "meta": "x", "other": [1, {"id": "keep"}]}`), "a.b")
	f.Add([]byte(`{"meta": {"name": "x", "name": "y"}, "id": "1", "id": "2"}`), "Z_9")
	f.Add([]byte(`[1]`), "m")
	f.Add([]byte(`{"id": "x"} trailing`), "m")
	const id = "0b6d3c4e-8c2a-4f6e-9d1a-2b3c4d5e6f70"
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		out, err := FillConfig(data, name, id)
		var in map[string]any
		if ValidName(name) != nil || !json.Valid(data) || json.Unmarshal(data, &in) != nil || in == nil {
			return // only "no panic" is promised
		}
		if config.CheckDepth(data) != nil {
			if err == nil {
				t.Fatalf("FillConfig(%q) accepted nesting deeper than %d", data, config.MaxDepth)
			}
			return
		}
		if err != nil {
			t.Fatalf("FillConfig(%q, %q) = %v, want success on a JSON object", data, name, err)
		}
		var doc map[string]any
		d := json.NewDecoder(bytes.NewReader(out))
		if err := d.Decode(&doc); err != nil || d.More() {
			t.Fatalf("FillConfig(%q) = %q: not one JSON object (%v)", data, out, err)
		}
		meta, _ := doc["meta"].(map[string]any)
		if doc["id"] != id || meta == nil || meta["name"] != name {
			t.Fatalf("FillConfig(%q) = %q: id or meta.name not set", data, out)
		}
		for k, v := range in {
			if k == "id" || k == "meta" {
				continue
			}
			a, _ := json.Marshal(v)
			b, _ := json.Marshal(doc[k])
			if !bytes.Equal(a, b) {
				t.Fatalf("FillConfig(%q) changed %q: %s -> %s", data, k, a, b)
			}
		}
	})
}
