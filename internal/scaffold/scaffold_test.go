package scaffold

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// layout is the real template's layout, which every new model has.
var layout = []string{
	"init/init.json",
	"contrib_src/inference.py",
	"contrib_src/processing.py",
	"contrib_src/run.py",
	"contrib_src/modelapi.py",
	"contrib_src/sandbox.ipynb",
	"contrib_src/model/config.json",
	"contrib_src/license/model",
	"contrib_src/license/sample_data",
	"contrib_src/sample_data",
}

func checkLayoutFiles(t *testing.T, dir string) {
	t.Helper()
	for _, p := range layout {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
}

func readConfig(t *testing.T, dir string) *config.ModelConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.ParseModelConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noLeftovers(t *testing.T, parent string, want ...string) {
	t.Helper()
	ents, _ := os.ReadDir(parent)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %v, want %v", parent, got, want)
	}
}

func TestNew_offline(t *testing.T) {
	parent := t.TempDir()
	cloned := false
	res, err := New(context.Background(), Options{Name: "my-model", Dir: parent, Offline: true,
		Clone: func(context.Context, string, string) error { cloned = true; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if cloned {
		t.Error("offline must not clone")
	}
	dir := filepath.Join(parent, "my-model")
	if res.Path != dir || res.Source != EmbeddedSource || res.CloneError != "" {
		t.Errorf("result %+v", res)
	}
	checkLayoutFiles(t, dir)
	c := readConfig(t, dir)
	if c.Name != "my-model" || c.ID != res.ID {
		t.Errorf("config name %q id %q, result id %q", c.Name, c.ID, res.ID)
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		t.Errorf("id %q is not a UUID", c.ID)
	}
	noLeftovers(t, parent, "my-model")

	// A second model gets another id.
	res2, err := New(context.Background(), Options{Name: "other", Dir: parent, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res2.ID == res.ID {
		t.Error("ids repeat")
	}
}

func TestNew_freshModelFailsOnPlaceholdersOnly(t *testing.T) {
	parent := t.TempDir()
	if _, err := New(context.Background(), Options{Name: "fresh", Dir: parent, Offline: true}); err != nil {
		t.Fatal(err)
	}
	c := readConfig(t, filepath.Join(parent, "fresh"))
	var got []string
	for _, v := range config.DefaultSchema().Validate(c.Doc) {
		got = append(got, v.Pointer)
	}
	want := []string{"/model/io/input/format", "/model/io/output/0/name", "/model/io/output/0/type"}
	if !slices.Equal(got, want) {
		t.Errorf("fresh config fails at %v, want the placeholders %v", got, want)
	}
}

func TestNew_refusesToOverwrite(t *testing.T) {
	parent := t.TempDir()
	if err := os.Mkdir(filepath.Join(parent, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"taken", "file"} {
		_, err := New(context.Background(), Options{Name: name, Dir: parent, Offline: true})
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "remove it first") {
			t.Errorf("%s: got %v", name, err)
		}
	}
	noLeftovers(t, parent, "file", "taken")
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"squeezenet", "deepscan-brats", "colab_lungmask", "DentalArtifactModel", "v1.2"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// a name new accepts must be one the index accepts ("trailing." was not)
	for _, name := range []string{"trailing.", "a.", "x-y_z.1"} {
		if ValidName(name) == nil && registry.CheckName(name) != nil {
			t.Errorf("new accepts %q, the index skips it: %v", name, registry.CheckName(name))
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "-x", ".hidden", "a..b", "with space", "trailing.", "CON", "nul", "Com1", "lpt9.model", "aux.v1"} {
		if err := ValidName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: got %v", bad, err)
		}
	}
	if _, err := New(context.Background(), Options{Name: "../escape", Dir: t.TempDir(), Offline: true}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("New with a bad name: %v", err)
	}
}

// templateRepo serves files (path -> content) as NAME.git on gs, with a second
// commit on top so that the clone is a shallow one of a longer history.
func templateRepo(t *testing.T, gs *testutil.GitServer, name string, files map[string]string) *testutil.Repo {
	t.Helper()
	r := gs.Repo(t, name, files)
	r.Commit("second")
	return r
}

const clonedConfig = `{
    "id": "REPLACE ME",
    "meta": {
        "name": "",
        "task": "from the clone"
    },
    "model": {"io": {"output": [{"name": "n", "type": "image"}]}},
    "modelhub": {}
}
`

func TestNew_fromTemplateRepo(t *testing.T) {
	gs := testutil.NewGitServer(t)
	url := templateRepo(t, gs, "tmpl", map[string]string{
		config.InitPath:             `{"docker_id": "x", "external_contrib_files": []}`,
		ConfigPath:                  clonedConfig,
		"contrib_src/run.py":        "print('cloned')\n",
		"contrib_src/sample_data/a": "sample",
	}).URL
	parent := t.TempDir()
	res, err := New(context.Background(), Options{Name: "cloned", Dir: parent, TemplateURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != url || res.CloneError != "" {
		t.Fatalf("result %+v", res)
	}
	dir := filepath.Join(parent, "cloned")
	if b, _ := os.ReadFile(filepath.Join(dir, "contrib_src/run.py")); string(b) != "print('cloned')\n" {
		t.Errorf("run.py = %q, want the template's", b)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git kept: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ConfigPath))
	want := strings.Replace(strings.Replace(clonedConfig, `"REPLACE ME"`, `"`+res.ID+`"`, 1), `"name": ""`, `"name": "cloned"`, 1)
	if string(b) != want {
		t.Errorf("config.json =\n%s\nwant (formatting kept)\n%s", b, want)
	}
	noLeftovers(t, parent, "cloned")
}

func TestNew_fallsBackToEmbedded(t *testing.T) {
	gs := testutil.NewGitServer(t)
	templateRepo(t, gs, "notatemplate", map[string]string{"README.md": "hello"})
	base := gs.URL
	for name, url := range map[string]string{
		"missing repo": base + "/nothing.git",
		"not template": base + "/notatemplate.git",
		"refused":      "http://127.0.0.1:1/model-template.git",
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			res, err := New(context.Background(), Options{Name: "m", Dir: parent, TemplateURL: url})
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != EmbeddedSource || res.CloneError == "" {
				t.Errorf("result %+v, want the embedded template and the clone error", res)
			}
			checkLayoutFiles(t, filepath.Join(parent, "m"))
			if _, err := os.Stat(filepath.Join(parent, "m", "README.md")); err == nil {
				t.Error("files of the failed clone kept")
			}
			noLeftovers(t, parent, "m")
		})
	}
}

func TestNew_canceledCloneLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := New(ctx, Options{Name: "m", Dir: parent, Clone: func(ctx context.Context, url, dir string) error {
		os.MkdirAll(dir, 0o755)
		cancel()
		return ctx.Err()
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	noLeftovers(t, parent)
}

func TestFillConfig(t *testing.T) {
	in := "{\n  \"meta\": {\"task\": \"x\", \"name\": \"old\"},\n  \"id\": \"\",\n  \"model\": {\"id\": \"inner\", \"meta\": {\"name\": \"inner\"}}\n}\n"
	got, err := FillConfig([]byte(in), `we"ird`, "ID")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"meta\": {\"task\": \"x\", \"name\": \"we\\\"ird\"},\n  \"id\": \"ID\",\n  \"model\": {\"id\": \"inner\", \"meta\": {\"name\": \"inner\"}}\n}\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Missing keys: rewritten.
	got, err = FillConfig([]byte(`{"model": {}}`), "n", "i")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := config.ParseModelConfig(got)
	if c.Name != "n" || c.ID != "i" {
		t.Errorf("rewritten: %s", got)
	}
	if _, err := FillConfig([]byte(`[]`), "n", "i"); err == nil {
		t.Error("want an error for a non-object")
	}
}

func TestConformance_fillRealTemplate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.ModelhubData(t), "models", "model-template", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := FillConfig(data, "new-model", uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	doc, _ := config.DecodeJSON(out)
	for _, v := range config.DefaultSchema().Validate(doc) {
		got = append(got, v.Pointer)
	}
	want := []string{"/model/io/input/format", "/model/io/input/single/format", "/model/io/output/0/name", "/model/io/output/0/type"}
	if !slices.Equal(got, want) {
		t.Errorf("filled real template fails at %v, want only %v", got, want)
	}
}

// A template whose config.json nests a million levels deep is refused with a
// clear error (it crashed with a stack overflow), and nothing is left behind.
func TestNew_deeplyNestedTemplateConfig(t *testing.T) {
	gs := testutil.NewGitServer(t)
	url := templateRepo(t, gs, "deep", map[string]string{
		config.InitPath: `{"docker_id": "x", "external_contrib_files": []}`,
		ConfigPath:      `{"id": "", "meta": {"name": ""}, "x": ` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}`,
	}).URL
	parent := t.TempDir()
	_, err := New(context.Background(), Options{Name: "deep", Dir: parent, TemplateURL: url})
	if err == nil || !strings.Contains(err.Error(), "nests deeper than 64 levels") {
		t.Fatalf("err = %v, want the nesting refused", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}
