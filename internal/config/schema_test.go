package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/testutil"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func sharedData(t *testing.T) string { return testutil.ModelhubData(t) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pointers(vs []Violation) []string {
	var ps []string
	for _, v := range vs {
		ps = append(ps, v.Pointer)
	}
	return ps
}

func TestDefaultSchema_fixtures(t *testing.T) {
	tests := []struct {
		file    string
		pointer string // "" = valid
		message string
	}{
		{"good_single.json", "", ""},
		{"good_multi.json", "", ""},
		{"missing_field.json", "/meta", "missing property 'task'"},
		{"wrong_type.json", "/publication/year", "got string, want number"},
		{"bad_output_type.json", "/model/io/output/1/type", "value must be one of 'label_list', 'contour', 'vector', 'mask_image', 'heatmap', 'image', 'custom'"},
		{"bad_named_input.json", "/model/io/input/ct", "missing property 'format'"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			vs, err := DefaultSchema().ValidateJSON(readFile(t, filepath.Join("testdata", "configs", tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if tt.pointer == "" {
				if len(vs) != 0 {
					t.Fatalf("want valid, got %v", vs)
				}
				return
			}
			var found bool
			for _, v := range vs {
				if v.Pointer == tt.pointer && strings.Contains(v.Message, tt.message) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want violation %s: %q, got %v", tt.pointer, tt.message, vs)
			}
		})
	}
}

func TestDefaultSchema_reportsEveryViolation(t *testing.T) {
	doc := `{"id": 5, "meta": {"name": ""}, "model": {"io": {"input": {"format": []}, "output": [{"name": "x", "type": "blob"}]}}, "extra": true}`
	vs, err := DefaultSchema().ValidateJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := pointers(vs)
	for _, want := range []string{"", "/id", "/meta", "/meta/name", "/model", "/model/io/input/format", "/model/io/output/0/type"} {
		if !slices.Contains(got, want) {
			t.Errorf("no violation at %q; got %v", want, vs)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("violations not sorted by pointer: %v", got)
	}
}

func TestDefaultSchema_notJSON(t *testing.T) {
	if _, err := DefaultSchema().ValidateJSON([]byte(`{"id": `)); err == nil {
		t.Fatal("want a decoding error")
	}
}

func TestCompileSchema_tolerance(t *testing.T) {
	// An empty required array (forbidden by draft-04), an ECMAScript lookahead, and unknown keywords.
	schema := `{
	  "$schema": "http://json-schema.org/draft-04/schema#",
	  "self": {"vendor": "x"},
	  "type": "object",
	  "properties": {"free": {"type": "object", "required": [], "uniqueValue": true}},
	  "patternProperties": {"^(((?!free)).)*$": {"type": "string"}}
	}`
	s, err := CompileSchema([]byte(schema), "t.json")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	vs, err := s.ValidateJSON([]byte(`{"free": {}, "other": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Pointer != "/other" || vs[0].Message != "got number, want string" {
		t.Fatalf("got %v", vs)
	}
}

func TestCompileSchema_errors(t *testing.T) {
	for name, schema := range map[string]string{
		"not json":        `{"type": `,
		"bad type":        `{"type": "thing"}`,
		"remote ref":      `{"$ref": "http://127.0.0.1:1/other.json"}`,
		"invalid pattern": `{"pattern": "(("}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CompileSchema([]byte(schema), "s.json")
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("want ErrSchema, got %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoadSchema_fileAndURL(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.json")
	if err := os.WriteFile(p, []byte(`{"type": "object", "required": ["id"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/s.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"type": "object", "required": ["name"]}`))
	}))
	defer srv.Close()

	for loc, want := range map[string]string{p: "missing property 'id'", srv.URL + "/s.json": "missing property 'name'"} {
		s, err := LoadSchema(context.Background(), srv.Client(), loc)
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if s.Source != loc {
			t.Errorf("Source = %q, want %q", s.Source, loc)
		}
		vs := s.Validate(map[string]any{})
		if len(vs) != 1 || vs[0].Message != want {
			t.Errorf("%s: got %v, want %q", loc, vs, want)
		}
	}
	if _, err := LoadSchema(context.Background(), srv.Client(), srv.URL+"/missing.json"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: got %v", err)
	}
	if _, err := LoadSchema(context.Background(), nil, filepath.Join(dir, "nope.json")); err == nil || !strings.Contains(err.Error(), "--schema") {
		t.Errorf("missing file: got %v", err)
	}
}

func TestParseModelConfig(t *testing.T) {
	c, err := ParseModelConfig(readFile(t, "testdata/configs/good_single.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "tiny-classifier" || c.ID != "0b6b2c8e-3f0a-4c55-9d1e-6a0f4f3e2a11" {
		t.Errorf("got name %q id %q", c.Name, c.ID)
	}
	want := []Output{{Name: "probabilities", Type: "label_list"}, {Name: "embedding", Type: "vector", Description: "features"}}
	if !slices.Equal(c.Outputs, want) {
		t.Errorf("outputs = %v, want %v", c.Outputs, want)
	}
	// Wrong types are left empty rather than failing.
	c, err = ParseModelConfig([]byte(`{"meta": {"name": 3}, "model": {"io": {"output": [{"type": 1}]}}}`))
	if err != nil || c.Name != "" || len(c.Outputs) != 1 || c.Outputs[0].Type != "" {
		t.Errorf("lenient parse: %+v, %v", c, err)
	}
	if _, err := ParseModelConfig([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "a list") {
		t.Errorf("array: got %v", err)
	}
	// malformed JSON names where, like init.json (it was "parse config.json: EOF",
	// "unexpected EOF", or the decoder's message without a position)
	for data, want := range map[string]string{
		"{\n \"a\": ,\n}": "parse config.json: invalid JSON at line 2, column 7 (byte 8): invalid character ','",
		"{\n \"a\": 1":    "parse config.json: invalid JSON: the file ends at line 2, column 8 before its brackets and braces are closed",
		"":                "parse config.json: empty file: expected a JSON object",
	} {
		if _, err := ParseModelConfig([]byte(data)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseModelConfig(%q) = %v, want %q", data, err, want)
		}
	}
}

// Conformance with the real modelhub data (skipped when absent).

func TestConformance_realConfigsPassOurSchema(t *testing.T) {
	data := sharedData(t)
	dirs, _ := filepath.Glob(filepath.Join(data, "models", "*", "config.json"))
	if len(dirs) == 0 {
		t.Skip("no real configs")
	}
	for _, p := range dirs {
		name := filepath.Base(filepath.Dir(p))
		if name == "model-template" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			vs, err := DefaultSchema().ValidateJSON(readFile(t, p))
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 0 {
				t.Fatalf("real config %s fails our schema: %v", name, vs)
			}
		})
	}
}

func TestConformance_templateFailsOnPlaceholdersOnly(t *testing.T) {
	data := sharedData(t)
	vs, err := DefaultSchema().ValidateJSON(readFile(t, filepath.Join(data, "models", "model-template", "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/id", "/meta/name", "/model/io/input/format", "/model/io/input/single/format", "/model/io/output/0/name", "/model/io/output/0/type"}
	if got := pointers(vs); !slices.Equal(got, want) {
		t.Fatalf("template violations at %v, want exactly the placeholders %v\n%v", got, want, vs)
	}
}

func TestConformance_upstreamSchema(t *testing.T) {
	data := sharedData(t)
	up := filepath.Join(data, "config_schema.json")
	s, err := LoadSchema(context.Background(), nil, up)
	if err != nil {
		t.Fatalf("upstream schema does not compile with the tolerances: %v", err)
	}
	for name, want := range map[string][]Violation{
		"alexnet":        {{"/model/io/input/dim_limits", "got array, want object"}},
		"squeezenet":     {{"/model/io/input/dim_limits", "got array, want object"}},
		"deepscan-brats": nil,
	} {
		vs, err := s.ValidateJSON(readFile(t, filepath.Join(data, "models", name, "config.json")))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(vs, want) {
			t.Errorf("%s: got %v, want %v", name, vs, want)
		}
	}
	vs, _ := s.ValidateJSON(readFile(t, filepath.Join(data, "models", "model-template", "config.json")))
	if got, want := pointers(vs), []string{"/model/io/input/format", "/model/io/input/single/format", "/model/io/output/0/type"}; !slices.Equal(got, want) {
		t.Errorf("template: got %v, want %v", vs, want)
	}
}

func TestConformance_upstreamDefectsNeedTolerance(t *testing.T) {
	data := sharedData(t)
	// A strict draft-04 compiler (Go regexp, required arrays kept) refuses the upstream
	// schema: these are the defects CompileSchema works around.
	raw := readFile(t, filepath.Join(data, "config_schema.json"))
	doc, err := DecodeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("mem://strict.json", doc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("mem://strict.json"); err == nil {
		t.Fatal("upstream schema compiles strictly: the tolerances may be obsolete")
	}
	if _, err := CompileSchema(raw, "upstream"); err != nil {
		t.Fatalf("tolerant compile: %v", err)
	}
}

func BenchmarkValidateDefaultSchema(b *testing.B) {
	data, err := os.ReadFile("testdata/configs/good_multi.json")
	if err != nil {
		b.Fatal(err)
	}
	s := DefaultSchema()
	b.ReportAllocs()
	for b.Loop() {
		if vs, err := s.ValidateJSON(data); err != nil || vs != nil {
			b.Fatal(vs, err)
		}
	}
}

func TestLookup(t *testing.T) {
	doc, err := DecodeJSON([]byte(`{"a": {"b/c": [1, {"d~e": ""}]}, "f": []}`))
	if err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{"/a/b~1c/0": "1", "/a/b~1c/1/d~0e": "", "/f": "[]"} {
		v, ok := Lookup(doc, ptr)
		if !ok {
			t.Errorf("%s not found", ptr)
			continue
		}
		if got := fmt.Sprint(v); got != want {
			t.Errorf("%s = %s, want %s", ptr, got, want)
		}
	}
	for _, ptr := range []string{"/x", "/a/b~1c/2", "/a/b~1c/x", "a", "/f/0/g"} {
		if _, ok := Lookup(doc, ptr); ok {
			t.Errorf("%s found", ptr)
		}
	}
	if v, _ := Lookup(doc, ""); v == nil {
		t.Error("root not found")
	}
	for v, want := range map[any]bool{"": true, " ": true, "x": false, nil: false} {
		if IsEmptyValue(v) != want {
			t.Errorf("IsEmptyValue(%q) != %v", v, want)
		}
	}
	if !IsEmptyValue([]any{}) || IsEmptyValue([]any{1}) {
		t.Error("IsEmptyValue on lists")
	}
}
