package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The real index (../shared/modelhub-data/models.json) through the real
// binary: every entry listed, none skipped, the colab_* entries (backend
// colab) and only they marked as notebooks.
func TestRealData_list(t *testing.T) {
	engineImage(t)
	data := testutil.ModelhubData(t)
	raw, err := os.ReadFile(filepath.Join(data, "models.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Name    string   `json:"name"`
		Backend []string `json:"backend"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, Home: t.TempDir(), Index: filepath.Join(data, "models.json")}
	r := e.must("list", "--json")
	if strings.Contains(r.Stderr, "skipped") {
		t.Errorf("entries of the real index were skipped:\n%s", r)
	}
	var listed []struct {
		Name     string `json:"name"`
		Notebook bool   `json:"notebook"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &listed); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if len(listed) != len(entries) {
		t.Errorf("list shows %d models, the index has %d", len(listed), len(entries))
	}
	notebooks := 0
	for _, m := range listed {
		want := strings.HasPrefix(m.Name, "colab_")
		if m.Notebook != want {
			t.Errorf("%s: notebook %v, want %v", m.Name, m.Notebook, want)
		}
		if m.Notebook {
			notebooks++
		}
	}
	t.Logf("%d entries, %d notebooks", len(listed), notebooks)
	if notebooks == 0 {
		t.Error("no notebook entries in the real index")
	}
	table := e.must("list")
	if !strings.Contains(table.Stdout, "NOTEBOOK") {
		t.Errorf("list has no NOTEBOOK column:\n%s", table)
	}
}

// The real init.json and config.json files pass `modelhub validate` (no
// FAIL) in a model folder of their own; the template fails only on its
// placeholders.
func TestRealData_validate(t *testing.T) {
	engineImage(t)
	data := testutil.ModelhubData(t)
	for _, name := range []string{"alexnet", "squeezenet", "deepscan-brats", "model-template"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			files := map[string]string{"init.json": "init/init.json", "config.json": "contrib_src/model/config.json"}
			for src, dst := range files {
				b, err := os.ReadFile(filepath.Join(data, "models", name, src))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, dst), b)
			}
			for _, f := range []string{"contrib_src/run.py", "contrib_src/inference.py"} {
				writeFile(t, filepath.Join(dir, f), []byte("# stand-in\n"))
			}
			e := &Env{t: t, Home: t.TempDir(), Index: filepath.Join(data, "models.json")}
			r := e.run("validate", "--json", dir)
			var rep struct {
				Checks []struct{ Name, Status, Detail string }
			}
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("%v\n%s", err, r)
			}
			var fails []string
			for _, c := range rep.Checks {
				if c.Status == "FAIL" {
					fails = append(fails, c.Name+": "+c.Detail)
				}
			}
			if name == "model-template" {
				if r.Code != 1 || len(fails) == 0 {
					t.Errorf("the template passed validate:\n%s", r)
				}
				for _, f := range fails {
					if !strings.Contains(f, "placeholder") && !strings.Contains(f, "still empty") && !strings.Contains(f, "YOUR") &&
						!strings.Contains(f, "example") && !strings.Contains(f, `""`) && !strings.Contains(f, "UUID") && !strings.Contains(f, "meta.name") {
						t.Errorf("the template fails on more than its placeholders: %s", f)
					}
				}
				return
			}
			if r.Code != 0 || len(fails) != 0 {
				t.Errorf("validate %s: %v\n%s", name, fails, r)
			}
		})
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
