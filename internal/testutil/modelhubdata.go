package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FindModelhubData returns the folder of real upstream modelhub data: shared/modelhub-data
// beside the repository root (found from the working directory by its go.mod), or
// beside one of the root's ancestors, so that git worktrees find it too.
func FindModelhubData() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		data := filepath.Join(d, "shared", "modelhub-data")
		if _, err := os.Stat(filepath.Join(data, "models.json")); err == nil {
			return data, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no ../shared/modelhub-data beside %s", dir)
		}
	}
}

// ModelhubData is FindModelhubData for tests: it skips the test when the data is absent.
func ModelhubData(t testing.TB) string {
	t.Helper()
	d, err := FindModelhubData()
	if err != nil {
		t.Skipf("real modelhub data not available: %v", err)
	}
	return d
}
