package modeltest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/scaffold"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

const goodInit = `{"docker_id": "modelhub/tiny:1.0", "external_contrib_files": [
  {"src_url": "https://example.invalid/w.bin", "dest_file_path": "/contrib_src/model/w.bin"}]}`

// writeModel creates a complete, valid model folder named name and returns its path.
func writeModel(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	cfg := strings.Replace(goodConfig, `"name": "fake"`, `"name": "`+name+`"`, 1)
	writeFiles(t, dir, map[string]string{
		config.InitPath:                   goodInit,
		ConfigFile:                        cfg,
		RunFile:                           "import inference\n",
		InferenceFile:                     "class Model: pass\n",
		ModelLicenseFile:                  "MIT\n",
		SampleDataLicenseFile:             "CC0\n",
		SampleDataDir + "/a.png":          "png",
		"contrib_src/model/thumbnail.jpg": "jpg",
	})
	return dir
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func validate(t *testing.T, dir string, opts ValidateOptions) *Report {
	t.Helper()
	rep := &Report{}
	Validate(dir, opts, rep)
	return rep
}

// notPassing lists "STATUS name: detail" for every check that did not pass.
func notPassing(rep *Report) []string {
	var out []string
	for _, c := range rep.Checks {
		if c.Status != Pass {
			out = append(out, string(c.Status)+" "+c.Name+": "+c.Detail)
		}
	}
	return out
}

func TestValidate_goodModel(t *testing.T) {
	dir := writeModel(t, "Tiny-Model")
	rep := validate(t, dir, ValidateOptions{Name: "tiny-model"}) // case-insensitive
	if np := notPassing(rep); len(np) != 0 {
		t.Fatalf("good model: %v", np)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if c.File == "" {
			t.Errorf("check %s names no file", c.Name)
		}
	}
	want := []string{"init.json parses", "docker_id", "external files", "config.json parses", "config.json schema", "meta.name", "output types",
		"run.py exists", "inference.py exists", "model license", "sample_data license", "sample data", "thumbnail"}
	if !slices.Equal(names, want) {
		t.Errorf("checks %v\nwant %v", names, want)
	}
	if rep.Summary() != "PASSED" {
		t.Errorf("summary %s", rep.Summary())
	}
	// The folder name is the default expected name.
	if np := notPassing(validate(t, dir, ValidateOptions{})); len(np) != 0 {
		t.Errorf("folder name: %v", np)
	}
}

func TestValidate_broken(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		check string
		st    Status
		want  string
	}{
		{"missing field", setConfig(`"task": "t",`, ""), "config.json schema", Fail, "/meta: missing property 'task'"},
		{"wrong type", setConfig(`"format": ".onnx"`, `"format": 1`), "config.json schema", Fail, "/model/format: got number, want string"},
		{"bad output type schema", setConfig(`"type": "vector"`, `"type": "tensor"`), "config.json schema", Fail, "/model/io/output/1/type: value must be one of"},
		{"bad output type", setConfig(`"type": "vector"`, `"type": "tensor"`), "output types", Fail, `output 1 (features): type "tensor" is not one of label_list, vector`},
		{"contour", setConfig(`"type": "vector"`, `"type": "contour"`), "output types", Warn, "engine produces no contour outputs"},
		{"not JSON", setFile(ConfigFile, `{"id": `), "config.json parses", Fail, "parse config.json"},
		{"no config", removeFile(ConfigFile), "config.json exists", Fail, "missing"},
		{"name mismatch", setConfig(`"name": "m"`, `"name": "other"`), "meta.name", Fail, `meta.name is "other" but the model is called "m"`},
		{"path traversal", setFile(config.InitPath, `{"docker_id": "a/b:1", "external_contrib_files": [{"src_url": "https://x.invalid/f", "dest_file_path": "contrib_src/../../etc/passwd"}]}`),
			"external files", Fail, "external_contrib_files[0].dest_file_path: \"contrib_src/../../etc/passwd\": path leaves the model folder"},
		{"ftp url", setFile(config.InitPath, `{"docker_id": "a/b:1", "external_contrib_files": [{"src_url": "ftp://x/f", "dest_file_path": "contrib_src/f"}]}`),
			"external files", Fail, "is not an http(s) URL"},
		{"placeholder docker_id", setFile(config.InitPath, `{"docker_id": "YOUR MODEL'S DOCKER ON DOCKERHUB", "external_contrib_files": []}`),
			"docker_id", Fail, "the template's placeholder"},
		{"init not JSON", setFile(config.InitPath, "{\n  \"docker_id\": 1\n}"), "init.json parses", Fail, "line 2"},
		{"no init", removeFile(config.InitPath), "init.json parses", Fail, "missing"},
		{"no run.py", removeFile(RunFile), "run.py exists", Fail, "missing"},
		{"no inference.py", removeFile(InferenceFile), "inference.py exists", Fail, "missing"},
		{"empty license", setFile(ModelLicenseFile, " \n"), "model license", Warn, "empty"},
		{"no sample license", removeFile(SampleDataLicenseFile), "sample_data license", Warn, "missing"},
		{"hidden samples only", func(t *testing.T, dir string) {
			removeFile(SampleDataDir+"/a.png")(t, dir)
			setFile(SampleDataDir+"/.gitkeep", "")(t, dir)
		}, "sample data", Warn, "no sample files"},
		{"no thumbnail", removeFile("contrib_src/model/thumbnail.jpg"), "thumbnail", Warn, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModel(t, "m")
			tt.edit(t, dir)
			rep := validate(t, dir, ValidateOptions{})
			var found bool
			for _, c := range rep.Checks {
				if c.Name == tt.check && c.Status == tt.st && strings.Contains(c.Detail, tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s %s containing %q; got %v", tt.st, tt.check, tt.want, notPassing(rep))
			}
			if tt.st == Fail && rep.Passed() || tt.st == Warn && (!rep.Passed() || rep.Count(Warn) != 1) {
				t.Errorf("summary %s; not passing: %v", rep.Summary(), notPassing(rep))
			}
		})
	}
}

func setConfig(old, new string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, filepath.FromSlash(ConfigFile))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("config has no %q", old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func setFile(p, content string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) { writeFiles(t, dir, map[string]string{p: content}) }
}

func removeFile(p string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidate_freshModelFailsOnPlaceholdersOnly(t *testing.T) {
	parent := t.TempDir()
	if _, err := scaffold.New(context.Background(), scaffold.Options{Name: "fresh", Dir: parent, Offline: true}); err != nil {
		t.Fatal(err)
	}
	rep := validate(t, filepath.Join(parent, "fresh"), ValidateOptions{})
	var fails, warns []string
	for _, c := range rep.Checks {
		switch c.Status {
		case Fail:
			fails = append(fails, c.Name+": "+c.Detail)
		case Warn:
			warns = append(warns, c.Name)
		}
	}
	wantFails := []string{
		"docker_id: init.json is not filled in",
		"external files: external_contrib_files[0]: init.json is not filled in",
		"config.json schema: /model/io/input/format: minItems",
		"config.json schema: /model/io/output/0/name: minLength",
		"config.json schema: /model/io/output/0/type: value must be one of",
		`output types: output 0 (): type "" is not one of`,
	}
	if len(fails) != len(wantFails) {
		t.Fatalf("fresh model fails %d checks, want %d:\n%s", len(fails), len(wantFails), strings.Join(fails, "\n"))
	}
	for i, w := range wantFails {
		if !strings.HasPrefix(fails[i], w) {
			t.Errorf("failure %d = %q, want prefix %q", i, fails[i], w)
		}
	}
	if want := []string{"model license", "sample_data license", "sample data", "thumbnail"}; !slices.Equal(warns, want) {
		t.Errorf("warnings %v, want %v", warns, want)
	}
}

func TestConformance_validateRealModels(t *testing.T) {
	data := testutil.ModelhubData(t)
	upstream, err := config.LoadSchema(context.Background(), nil, filepath.Join(data, "config_schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alexnet", "squeezenet", "deepscan-brats"} {
		t.Run(name, func(t *testing.T) {
			dir := writeModel(t, name)
			for _, f := range []string{"init.json", "config.json"} {
				b, err := os.ReadFile(filepath.Join(data, "models", name, f))
				if err != nil {
					t.Fatal(err)
				}
				dest := config.InitPath
				if f == "config.json" {
					dest = ConfigFile
				}
				setFile(dest, string(b))(t, dir)
			}
			if np := notPassing(validate(t, dir, ValidateOptions{})); len(np) != 0 {
				t.Errorf("our schema: %v", np)
			}
			np := notPassing(validate(t, dir, ValidateOptions{Schema: upstream}))
			if name == "deepscan-brats" {
				if len(np) != 0 {
					t.Errorf("upstream schema: %v", np)
				}
				return
			}
			if want := []string{"FAIL config.json schema: /model/io/input/dim_limits: got array, want object"}; !slices.Equal(np, want) {
				t.Errorf("upstream schema: %v, want %v", np, want)
			}
		})
	}
}
