package notebook

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/registry"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIsEntry(t *testing.T) {
	for _, c := range []struct {
		backend []string
		want    bool
	}{
		{[]string{"colab", "pytorch"}, true},
		{[]string{"pytorch", " Colab "}, true},
		{[]string{"caffe"}, false},
		{nil, false},
	} {
		if got := IsEntry(&registry.Entry{Backend: c.backend}); got != c.want {
			t.Errorf("IsEntry(%q) = %v, want %v", c.backend, got, c.want)
		}
	}
	if IsEntry(nil) {
		t.Error("IsEntry(nil) = true")
	}
}

// The real entries: config.json's colab_link names the notebook; the links
// name the branch cloned (main), whatever the index said.
func TestFind_colabLink(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"contrib_src/model/config.json": `{"meta": {"name": "colab_liver", "colab_link": "https://github.com/modelhub-ai/colab_liver/blob/main/nnunet_liver_mwe.ipynb"}}`,
		"nnunet_liver_mwe.ipynb":        "{}",
		"contrib_src/sandbox.ipynb":     "{}",
	})
	if !IsFolder(dir) {
		t.Fatal("IsFolder = false")
	}
	l, err := Find(dir, "https://github.com/modelhub-ai/colab_liver", "main")
	if err != nil {
		t.Fatal(err)
	}
	want := Links{
		Path:   "nnunet_liver_mwe.ipynb",
		Local:  filepath.Join(dir, "nnunet_liver_mwe.ipynb"),
		GitHub: "https://github.com/modelhub-ai/colab_liver/blob/main/nnunet_liver_mwe.ipynb",
		Colab:  "https://colab.research.google.com/github/modelhub-ai/colab_liver/blob/main/nnunet_liver_mwe.ipynb",
	}
	if l != want {
		t.Errorf("Find =\n%+v, want\n%+v", l, want)
	}
}

// Without a colab_link the first notebook outside contrib_src is used; a
// repository not on GitHub gets the local path only, unless the link says
// where it lives on GitHub.
func TestFind_noLink(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"notebooks/b run.ipynb":     "{}",
		"notebooks/a.ipynb":         "{}",
		"contrib_src/sandbox.ipynb": "{}",
	})
	if IsFolder(dir) {
		t.Error("IsFolder without colab_link = true")
	}
	l, err := Find(dir, "https://github.com/o/r.git", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if l.Path != "notebooks/a.ipynb" || l.Colab != "https://colab.research.google.com/github/o/r/blob/dev/notebooks/a.ipynb" {
		t.Errorf("Find = %+v", l)
	}
	l, err = Find(dir, "http://127.0.0.1:1234/r.git", "dev")
	if err != nil || l.GitHub != "" || l.Colab != "" || l.Local == "" {
		t.Errorf("Find off GitHub = %+v, %v", l, err)
	}
	write(t, dir, map[string]string{"notebooks/a.ipynb": "{}"})
	os.RemoveAll(filepath.Join(dir, "notebooks"))
	if _, err := Find(dir, "https://github.com/o/r", "dev"); !errors.Is(err, ErrNoNotebook) {
		t.Errorf("Find with no notebook: %v, want ErrNoNotebook", err)
	}
}

func TestParseBlob(t *testing.T) {
	for _, c := range []struct {
		link string
		ok   bool
	}{
		{"https://github.com/o/r/blob/main/x/y.ipynb", true},
		{"https://github.com/o/r/tree/main/x/y.ipynb", false},
		{"https://github.com/o/r/blob/main/../y.ipynb", false},
		{"https://gitlab.com/o/r/blob/main/y.ipynb", false},
		{"https://github.com/o/r/blob/main/y.py", false},
	} {
		if _, _, _, _, ok := parseBlob(c.link); ok != c.ok {
			t.Errorf("parseBlob(%q) ok = %v, want %v", c.link, ok, c.ok)
		}
	}
}
