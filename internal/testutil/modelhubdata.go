package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// ModelhubData returns the folder of real upstream modelhub data (shared/modelhub-data
// beside the repository root, or beside one of its ancestors, so that git worktrees
// find it too), skipping the test when it is absent.
func ModelhubData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("real modelhub data not available: go.mod not found")
		}
		dir = parent
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		data := filepath.Join(d, "shared", "modelhub-data")
		if _, err := os.Stat(filepath.Join(data, "models.json")); err == nil {
			return data
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Skipf("real modelhub data not available beside %s (../shared/modelhub-data)", dir)
	return ""
}
