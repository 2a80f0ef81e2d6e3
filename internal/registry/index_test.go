package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `[
 {"id": "a", "name": "squeezenet", "task_extended": "ImageNet classification",
  "github": "https://github.com/modelhub-ai/squeezenet", "github_branch": "master", "backend": ["mxnet", "onnx"], "new_field": 1},
 {"id": "b", "name": "deepscan-brats", "task_extended": "Brain tumour segmentation",
  "github": "https://github.com/modelhub-ai/deepscan-brats", "github_branch": "master", "backend": ["pytorch"], "gpu": true},
 {"id": "c", "name": "AlexNet", "task_extended": "ImageNet classification",
  "github": "http://github.com/modelhub-ai/alexnet", "backend": ["caffe"]}
]`

func TestParse(t *testing.T) {
	ix, err := Parse([]byte(sample), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ix.Names(), " "); got != "AlexNet deepscan-brats squeezenet" {
		t.Errorf("names sorted case-insensitively = %q", got)
	}
	if len(ix.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", ix.Warnings)
	}
	m, _ := ix.Lookup("deepscan-brats")
	if !m.GPU || m.Backend[0] != "pytorch" || m.Branch() != "master" {
		t.Errorf("deepscan-brats parsed as %+v", m)
	}
	a, _ := ix.Lookup("alexnet")
	if a.GPU || a.Branch() != "master" {
		t.Errorf("alexnet: gpu %v, branch %q (want false, master by default)", a.GPU, a.Branch())
	}
}

func TestParseSkipsUnsafeEntries(t *testing.T) {
	data := `[
 {"name": "../evil", "github": "https://x.invalid/a"},
 {"name": "a/b", "github": "https://x.invalid/a"},
 {"name": "a\\b", "github": "https://x.invalid/a"},
 {"name": "", "github": "https://x.invalid/a"},
 {"name": "bell\u0007", "github": "https://x.invalid/a"},
 {"name": "..", "github": "https://x.invalid/a"},
 {"name": "files", "github": "file:///etc/passwd"},
 {"name": "ssh", "github": "git@github.com:x/y.git"},
 {"name": "typed", "github": "https://x.invalid/a", "backend": "not-a-list"},
 {"name": "good", "github": "https://x.invalid/good"},
 {"name": "GOOD", "github": "https://x.invalid/good2"},
 null,
 7
]`
	ix, err := Parse([]byte(data), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ix.Names(), ","); got != "good" {
		t.Errorf("kept %q, want only good", got)
	}
	if len(ix.Warnings) != 12 {
		t.Fatalf("want 12 warnings, got %d: %q", len(ix.Warnings), ix.Warnings)
	}
	for _, want := range []string{`"../evil"`, `"a/b"`, `"files"`, `"ssh"`, `"GOOD"`,
		// in the index's terms, not Go's ("cannot unmarshal ... of type []string")
		`skipped entry 9 ("typed"): "backend" is a string, want a list of strings`,
		"skipped entry 12: null is not a model (want an object)",
		"skipped entry 13: a number is not a model (want an object)"} {
		found := false
		for _, w := range ix.Warnings {
			found = found || strings.Contains(w, want)
		}
		if !found {
			t.Errorf("no warning names %s: %q", want, ix.Warnings)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		data      string
		line, col int
		notList   bool // valid JSON, but not a list: not called "not valid JSON"
	}{
		{"[\n {\"name\": \"a\",}\n]", 2, 15, false},
		{"[\n {\"name\": \"a\"}", 2, 15, false},
		{"", 1, 1, false},
		{`{"name": "a"}`, 1, 1, true},
		{"[] []", 1, 4, false},
		{"null", 1, 1, true},
		{"\n  null\n", 2, 3, true},
	} {
		_, err := Parse([]byte(tc.data), "models.json")
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want *SyntaxError", tc.data, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || !strings.Contains(err.Error(), "models.json") {
			t.Errorf("Parse(%q): %v: at %d:%d, want %d:%d", tc.data, err, se.Line, se.Column, tc.line, tc.col)
		}
		if se.NotList != tc.notList || strings.Contains(err.Error(), "not valid JSON") == tc.notList {
			t.Errorf("Parse(%q): %v: NotList %v, want %v", tc.data, err, se.NotList, tc.notList)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"squeezenet", "deepscan-brats", "colab_liver", "Cardiac-FCN", "v1.2", "console", "nullnet", "com10", "lpt", "auxiliary.v2"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", ".staging-x", "a/b", `a\b`, "x..y", "tab\tname", "c:", " lead", "trail.", strings.Repeat("a", 200),
		"CON", "nul", "Aux.json", "com1", "LPT9.txt", "com¹", "prn ", "a:b", "a|b", "a?", "trail ", "ab"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestLookup(t *testing.T) {
	ix, _ := Parse([]byte(sample), "test")
	m, err := ix.Lookup("SqueezeNet")
	if err != nil || m.Name != "squeezenet" {
		t.Fatalf("Lookup(SqueezeNet) = %v, %v", m, err)
	}
	_, err = ix.Lookup("squeezenett")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	want := `model "squeezenett" not found in the index; did you mean "squeezenet"? (run ` + "`modelhub list`" + ` to see all models)`
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	_, err = ix.Lookup("zzzzzzzzzz")
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Suggestions) != 0 || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far name: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i, n := range []string{"lungmask", "lung-seg", "lungs", "liver", "colab_lungmask", "alexnet"} {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"name":"` + n + `","github":"https://x.invalid/` + n + `"}`)
	}
	b.WriteString("]")
	ix, _ := Parse([]byte(b.String()), "t")
	got := ix.Suggest("lung", 3)
	if len(got) != 3 || got[0] != "lungs" {
		t.Errorf("Suggest(lung) = %q, want 3 with lungs first", got)
	}
	if got := ix.Suggest("alexnte", 3); len(got) != 1 || got[0] != "alexnet" {
		t.Errorf("Suggest(alexnte) = %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"squeezenet", "squeezenet", 0}, {"né", "ne", 1}} {
		if d := Distance(tc.a, tc.b); d != tc.d {
			t.Errorf("Distance(%q,%q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

func TestStartsWord(t *testing.T) {
	for _, tc := range []struct {
		hay, w string
		want   bool
	}{
		{"lung ct segmentation", "ct", true},
		{"nodule detection", "ct", false},
		{"contrast-enhanced ct", "ct", true},
		{"contrast", "ct", false},
		{"cta of the head", "ct", true},
		{"brain-seg tumour", "seg", true},
		{"deepscan-brats", "brats", true},
		{"deepscan-brats", "scan", false},
		{"écho cardiaque", "cardi", true},
		{"détection", "tection", false},
		{"anything", "", true},
	} {
		if got := StartsWord(tc.hay, tc.w); got != tc.want {
			t.Errorf("StartsWord(%q, %q) = %v, want %v", tc.hay, tc.w, got, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	ix, _ := Parse([]byte(sample), "test")
	names := func(ms []Entry) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Name)
		}
		return strings.Join(s, ",")
	}
	if got := names(ix.Filter([]string{"IMAGENET"}, "", false)); got != "AlexNet,squeezenet" {
		t.Errorf("words: %s", got)
	}
	if got := names(ix.Filter([]string{"imagenet", "squeeze"}, "", false)); got != "squeezenet" {
		t.Errorf("two words: %s", got)
	}
	// words match at the start of a word, not inside one
	if got := names(ix.Filter([]string{"squeeze"}, "", false)); got != "squeezenet" {
		t.Errorf("prefix of a word: %s", got)
	}
	if got := names(ix.Filter([]string{"net"}, "", false)); got != "" {
		t.Errorf("inside a word: %s", got)
	}
	if got := names(ix.Filter(nil, "ONNX", false)); got != "squeezenet" {
		t.Errorf("backend: %s", got)
	}
	if got := names(ix.Filter(nil, "", true)); got != "deepscan-brats" {
		t.Errorf("gpu: %s", got)
	}
}

// sharedData is the real upstream data, present beside the project on the team's machines.
func sharedData(t testing.TB) string {
	dir, _ := filepath.Abs("../../../shared/modelhub-data")
	if _, err := os.Stat(filepath.Join(dir, "models.json")); err != nil {
		t.Skipf("real modelhub data not found at %s; conformance test skipped", dir)
	}
	return dir
}

func TestConformanceRealIndex(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedData(t), "models.json"))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Parse(data, "models.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Models) != 33 || len(ix.Warnings) != 0 {
		t.Fatalf("got %d models, warnings %q; want 33 and none", len(ix.Models), ix.Warnings)
	}
	var gpu []string
	for _, m := range ix.Models {
		if m.GPU {
			gpu = append(gpu, m.Name)
		}
	}
	if len(gpu) != 2 {
		t.Errorf("GPU models %q, want 2", gpu)
	}
	if _, err := ix.Lookup("SqueezeNet"); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`[{"name": 1}]`))
	f.Add([]byte(`[null, {}, []]`))
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := Parse(data, "fuzz")
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SyntaxError: %v", err)
			}
			return
		}
		for _, m := range ix.Models {
			if CheckName(m.Name) != nil {
				t.Fatalf("unsafe name kept: %q", m.Name)
			}
			ix.Lookup(m.Name)
			ix.Suggest(m.Name, 3)
		}
	})
}

// Two names that are one folder on Windows or macOS (case, Unicode
// normalisation) are one model: the second is skipped with a warning.
func TestParse_duplicateNamesAsPlatformsCompare(t *testing.T) {
	ix, err := Parse([]byte(`[
	  {"id": "1", "name": "caf\u00e9", "task_extended": "a", "github": "https://example.invalid/a"},
	  {"id": "2", "name": "cafe\u0301", "task_extended": "a", "github": "https://example.invalid/b"},
	  {"id": "3", "name": "CAF\u00c9", "task_extended": "a", "github": "https://example.invalid/c"}]`), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Models) != 1 || len(ix.Warnings) != 2 || !strings.Contains(ix.Warnings[0], "appears twice") {
		t.Errorf("models %v, warnings %q; want one model and two warnings", ix.Models, ix.Warnings)
	}
}
