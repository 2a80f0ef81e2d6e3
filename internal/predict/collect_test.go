package predict

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/config"
)

func pngBytes() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)))
	return b.Bytes()
}

func jpegBytes() []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)), nil)
	return b.Bytes()
}

var gzipBytes = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func write(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func specOf(t *testing.T, doc string) *Spec {
	t.Helper()
	c, err := config.ParseModelConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := SpecFromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const singleCfg = `{"model": {"io": {"input": {"format": ["image/png", "image/jpg"], "dim_limits": [{"min": 1}]}}}}`

// deepscan-brats' shape: format application/json, four named NIfTI inputs, a description.
const multiCfg = `{"model": {"io": {"input": {"format": ["application/json"], "description": "4 volumes",
  "t1": {"format": ["application/nii-gzip"], "dim_limits": [{"min": 1}]},
  "t1c": {"format": ["application/nii-gzip"]},
  "flair": {"format": ["application/nii-gzip"]}}}}}`

func TestSpecFromConfig(t *testing.T) {
	s := specOf(t, singleCfg)
	if s.Multi() || strings.Join(s.Formats, ",") != "image/png,image/jpg" {
		t.Errorf("single: %+v", s)
	}
	m := specOf(t, multiCfg)
	if !m.Multi() || strings.Join(m.Names(), ",") != "flair,t1,t1c" {
		t.Errorf("multi: %+v", m)
	}
	for _, bad := range []string{`{"model": {}}`, `{"model": {"io": {"input": {"format": []}}}}`, `{"model": {"io": {"input": {"format": ["application/json"], "t1": {"format": []}}}}}`} {
		c, _ := config.ParseModelConfig([]byte(bad))
		if _, err := SpecFromConfig(c); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func names(c *Collection) []string {
	var n []string
	for _, it := range c.Items {
		n = append(n, it.Name)
	}
	return n
}

func TestCollect_single(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string][]byte{
		"photos/a.png": pngBytes(), "photos/sub/b.jpg": jpegBytes(), "photos/notes.txt": []byte("hi"),
		"photos/.hidden.png": pngBytes(), "photos/.git/x.png": pngBytes(), "c.png": pngBytes(), "other/a.png": pngBytes(),
		"doc.txt": []byte("text"),
	})
	t.Chdir(dir)
	spec := specOf(t, singleCfg)
	stdin := strings.NewReader("c.png\n\nhttps://example.org/img/d.png?x=1\n")
	c, err := Collect(spec, Request{Args: []string{"photos", "-", "photos/a.png", "other/a.png"}, Stdin: stdin})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(c), " ")
	if got != "a.png sub/b.jpg c.png d.png a.png~2" {
		t.Errorf("items = %s", got)
	}
	if c.Items[3].URL != "https://example.org/img/d.png?x=1" || c.Items[1].Type != "image/jpeg" || !filepath.IsAbs(c.Items[0].Path) {
		t.Errorf("items = %+v", c.Items)
	}
	var skipped []string
	for _, s := range c.Skipped {
		skipped = append(skipped, filepath.Base(s.Path)+"="+s.Reason)
	}
	sort.Strings(skipped)
	if strings.Join(skipped, ",") != ".git=hidden folder,.hidden.png=hidden file,notes.txt=text/plain is not an accepted type" {
		t.Errorf("skipped = %v", skipped)
	}

	// a named file of the wrong type is an error naming the accepted types
	_, err = Collect(spec, Request{Args: []string{"doc.txt"}})
	var te *TypeError
	if !errors.As(err, &te) || err.Error() != "doc.txt is text/plain, but the model accepts image/png, image/jpg" {
		t.Errorf("wrong type: %v", err)
	}
	if _, err := Collect(spec, Request{Args: []string{"nope.png"}}); err == nil || !strings.Contains(err.Error(), "nope.png: no such file or folder") {
		t.Errorf("missing: %v", err)
	}
	if _, err := Collect(spec, Request{Args: []string{"photos/sub"}, Named: []NamedPath{{"t1", "c.png"}}}); err == nil || !strings.Contains(err.Error(), "--input NAME=PATH is for models with several named inputs") {
		t.Errorf("--input on a single-input model: %v", err)
	}
	write(t, dir, map[string][]byte{"empty/readme.md": []byte("x")})
	if c, err := Collect(spec, Request{Args: []string{"empty"}}); !errors.Is(err, ErrNoInputs) || len(c.Skipped) != 1 {
		t.Errorf("empty folder: %v", err)
	}
}

func TestCollect_multi(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string][]byte{
		"cohort/p1/t1.nii.gz": gzipBytes, "cohort/p1/T1C.nii.gz": gzipBytes, "cohort/p1/flair.nii.gz": gzipBytes, "cohort/p1/notes.txt": []byte("x"),
		"cohort/p2/BraTS_p2_t1.nii.gz": gzipBytes, "cohort/p2/BraTS_p2_t1c.nii.gz": gzipBytes, "cohort/p2/BraTS_p2_flair.nii.gz": gzipBytes,
		"cohort/p3/t1.nii.gz": gzipBytes, "cohort/p3/flair.nii.gz": gzipBytes, // t1c missing
		"cohort/p4/case.json": []byte(`{"format": ["application/json"], "t1": {"fileurl": "../p1/t1.nii.gz"}, "t1c": {"fileurl": "https://example.org/t1c.nii.gz"}, "flair": {"fileurl": "f.nii.gz"}}`),
		"cohort/p4/f.nii.gz":  gzipBytes,
		"cohort/p5/t1.nii.gz": gzipBytes, "cohort/p5/t1c.png": pngBytes(), "cohort/p5/flair.nii.gz": gzipBytes, // wrong type
		"cohort/README.md": []byte("x"),
		"one/t1.nii.gz":    gzipBytes, "one/t1c.nii.gz": gzipBytes, "one/flair.nii.gz": gzipBytes,
	})
	t.Chdir(dir)
	spec := specOf(t, multiCfg)
	c, err := Collect(spec, Request{Args: []string{"cohort", "one"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(c), " "); got != "p1 p2 p3 p4 p5 one" {
		t.Fatalf("cases = %s", got)
	}
	byName := map[string]Item{}
	for _, it := range c.Items {
		byName[it.Name] = it
	}
	for _, n := range []string{"p1", "p2", "one"} {
		it := byName[n]
		if it.Err != nil || len(it.Case) != 3 || it.Case[0].Input != "flair" || filepath.Base(filepath.Dir(it.Case[0].Path)) != n {
			t.Errorf("%s: %+v", n, it)
		}
	}
	if p4 := byName["p4"]; p4.Err != nil || p4.Case[2].URL != "https://example.org/t1c.nii.gz" || filepath.Base(p4.Case[1].Path) != "t1.nii.gz" {
		t.Errorf("p4 (case JSON): %+v %v", p4.Case, p4.Err)
	}
	if err := byName["p3"].Err; err == nil || !strings.Contains(err.Error(), "case p3: no file for input t1c") {
		t.Errorf("p3: %v", err)
	}
	if err := byName["p5"].Err; err == nil || !strings.Contains(err.Error(), "t1c.png is image/png, but input t1c accepts application/nii-gzip") {
		t.Errorf("p5: %v", err)
	}

	// --input: one case, checked strictly
	named := []NamedPath{{"t1", "one/t1.nii.gz"}, {"T1C", "one/t1c.nii.gz"}, {"flair", "one/flair.nii.gz"}}
	c, err = Collect(spec, Request{Named: named})
	if err != nil || len(c.Items) != 1 || c.Items[0].Name != "one" || c.Items[0].Case[2].Input != "t1c" {
		t.Fatalf("--input: %+v %v", c, err)
	}
	for _, tc := range []struct {
		named []NamedPath
		want  string
	}{
		{named[:2], "missing --input for flair"},
		{append(named[:2:2], NamedPath{"t2", "one/flair.nii.gz"}), `the model has no input "t2"; its inputs are flair, t1, t1c`},
		{append(named[:2:2], NamedPath{"flair", "cohort/p5/t1c.png"}), "cohort/p5/t1c.png is image/png, but input flair accepts application/nii-gzip"},
	} {
		if _, err := Collect(spec, Request{Named: tc.named}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.named, err, tc.want)
		}
	}
	if _, err := Collect(spec, Request{Args: []string{"one/t1.nii.gz"}}); err == nil || !strings.Contains(err.Error(), "a multi-input model takes cases") {
		t.Errorf("a lone file: %v", err)
	}
}
