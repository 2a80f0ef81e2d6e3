package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// treeFixture makes base/model (with contrib_src/model and .git) and
// base/outside/marker, then the links (path in the model -> target).
func treeFixture(t *testing.T, links map[string]string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	base := t.TempDir()
	model := filepath.Join(base, "model")
	for _, d := range []string{"contrib_src/model", "contrib_src/sample_data", "init", ".git", ".modelhub"} {
		if err := os.MkdirAll(filepath.Join(model, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(base, "outside"), 0o755)
	os.WriteFile(filepath.Join(base, "outside", "marker"), []byte("outside"), 0o644)
	os.WriteFile(filepath.Join(model, "contrib_src", "model", "config.json"), []byte("{}"), 0o644)
	for l, target := range links {
		p := filepath.Join(model, filepath.FromSlash(l))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
			t.Fatal(err)
		}
	}
	return model
}

func TestCheckTree_refuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, link, target, entry, why string
	}{
		{"contrib_src out", "contrib_src", "../outside", "contrib_src", "the container mounts contrib_src"},
		{"contrib_src to the root", "contrib_src", "../../../../../../../../../../..", "contrib_src", "the container mounts contrib_src"},
		{"contrib_src inside", "contrib_src", "init", "contrib_src", "must be a real folder"},
		{"absolute", "contrib_src/model/w.bin", "/etc/passwd", "contrib_src/model/w.bin", "absolute link"},
		{"climbs out", "contrib_src/sample_data/x.png", "../../../outside/marker", "contrib_src/sample_data/x.png", "leads out of the model folder"},
		{"init.json out", "init/init.json", "../../outside/marker", "init/init.json", "leads out of the model folder"},
		{"top level out", "README.md", "../outside/marker", "README.md", "leads out"},
		{"into .git", "contrib_src/g", "../.git", "contrib_src/g", "points into .git"},
		{"into .modelhub", "contrib_src/m", "../.modelhub", "contrib_src/m", "points into .modelhub"},
		{"self loop", "contrib_src/loop", "loop", "contrib_src/loop", "loop of links"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var model string
			if tc.link == "contrib_src" {
				model = treeFixture(t, nil)
				os.RemoveAll(filepath.Join(model, "contrib_src"))
				if err := os.Symlink(filepath.FromSlash(tc.target), filepath.Join(model, "contrib_src")); err != nil {
					t.Fatal(err)
				}
			} else {
				model = treeFixture(t, map[string]string{tc.link: tc.target})
			}
			err := CheckTree(model)
			var te *TreeError
			if !errors.As(err, &te) || !errors.Is(err, ErrUnsafe) {
				t.Fatalf("CheckTree = %v, want a *TreeError", err)
			}
			if te.Entry != tc.entry || te.Target != tc.target || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("CheckTree = %v, want entry %q, target %q, %q", err, tc.entry, tc.target, tc.why)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

// A chain of links that looks harmless one link at a time but climbs out once
// resolved (b/.. is not "." when b is a link) is refused.
func TestCheckTree_chain(t *testing.T) {
	t.Parallel()
	model := treeFixture(t, map[string]string{
		"contrib_src/deep/b":  "../../contrib_src/model",
		"contrib_src/a":       "deep/b/../../../outside",
		"contrib_src/model/c": "../sample_data",
	})
	err := CheckTree(model)
	var te *TreeError
	if !errors.As(err, &te) || te.Entry != "contrib_src/a" {
		t.Fatalf("CheckTree = %v, want contrib_src/a refused", err)
	}
}

func TestCheckTree_keeps(t *testing.T) {
	t.Parallel()
	model := treeFixture(t, map[string]string{
		"contrib_src/model/w.bin":   "../sample_data/w.bin", // dangling, inside
		"contrib_src/sample_data/s": "../model",
		"LICENSE":                   "contrib_src/model/config.json",
		".git/evil":                 "/etc", // git's folder is not walked
	})
	if err := CheckTree(model); err != nil {
		t.Fatalf("CheckTree = %v, want nil", err)
	}
	// A special file where contrib_src should be is refused.
	os.RemoveAll(filepath.Join(model, "contrib_src"))
	os.WriteFile(filepath.Join(model, "contrib_src"), nil, 0o644)
	if err := CheckTree(model); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), `"contrib_src" is not a folder`) {
		t.Fatalf("CheckTree = %v, want contrib_src refused as a file", err)
	}
}

func TestResolveIn(t *testing.T) {
	t.Parallel()
	model := treeFixture(t, map[string]string{
		"contrib_src/deep/b": "../../contrib_src/model",
		"contrib_src/up":     "..",
	})
	r, err := os.OpenRoot(model)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for in, want := range map[string]string{
		"contrib_src/deep/b/config.json": "contrib_src/model/config.json",
		"contrib_src/deep/b/..":          "contrib_src",
		"contrib_src/up/init":            "init",
		"contrib_src/missing/../model":   "contrib_src/model",
	} {
		if got, err := ResolveIn(r, in); err != nil || got != want {
			t.Errorf("ResolveIn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ResolveIn(r, "contrib_src/up/.."); err == nil {
		t.Errorf("ResolveIn(contrib_src/up/..) left the folder without an error")
	}
}
