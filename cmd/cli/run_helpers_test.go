package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// e2eModelBehaving is e2eModel with contrib_src/demo_engine.json set to behaviour.
func e2eModelBehaving(t testing.TB, image, behaviour string) (string, []string) {
	t.Helper()
	model, env := e2eModel(t, image)
	var home string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "MODELHUB_HOME="); ok {
			home = v // the last one wins, as in the environment
		}
	}
	if err := os.WriteFile(filepath.Join(home, "models", model, "contrib_src", "demo_engine.json"), []byte(behaviour), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, env
}

// e2eModel installs a downloaded copy of the demo model running image under
// a fresh home and returns the model name and the environment for the
// modelhub binary (found on PATH, set up by testscript.Main).
func e2eModel(t testing.TB, image string) (string, []string) {
	t.Helper()
	home := t.TempDir()
	model := testutil.UniqueName("demo")
	dir := filepath.Join(home, "models", model)
	if err := os.CopyFS(dir, os.DirFS(testutil.DemoModelDir(t))); err != nil {
		t.Fatal(err)
	}
	initJSON, _ := json.Marshal(map[string]any{"docker_id": image, "external_contrib_files": []any{}})
	os.WriteFile(filepath.Join(dir, "init", "init.json"), initJSON, 0o644)
	os.MkdirAll(filepath.Join(dir, ".modelhub"), 0o755)
	os.WriteFile(filepath.Join(dir, ".modelhub", "manifest.json"), []byte(`{"complete": true}`), 0o644)
	env := append(os.Environ(), "MODELHUB_HOME="+home, "MODELHUB_INDEX=http://127.0.0.1:9/unused.json", "NO_COLOR=1")
	return model, env
}
