package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/safepath"
)

func skipNoSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
}

// victim is a file outside the models folder that no pull or rm may change.
func victim(t *testing.T) (path string, check func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, func() {
		t.Helper()
		if got, err := os.ReadFile(path); err != nil || string(got) != "precious" {
			t.Errorf("the file outside now holds %q (%v)", got, err)
		}
	}
}

// Repairing a downloaded model never writes through a link found in its
// folder: not a .part, not a sidecar, not the manifest's folder.
func TestPull_repairRefusesLinks(t *testing.T) {
	skipNoSymlinks(t)
	t.Parallel()
	for _, link := range []string{"contrib_src/model/b.bin.part", "contrib_src/model/b.bin.part.json", "contrib_src/model/b.bin"} {
		t.Run(filepath.Base(link), func(t *testing.T) {
			fx := newFixture(t)
			ctx := context.Background()
			if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(fx.s.ModelsDir(), "Demo")
			out, check := victim(t)
			p := filepath.Join(dir, filepath.FromSlash(link))
			os.Remove(filepath.Join(dir, "contrib_src", "model", "b.bin"))
			if err := os.Symlink(out, p); err != nil {
				t.Fatal(err)
			}
			// a link out of the folder is refused by the tree check before
			// anything is written
			_, err := fx.pull(ctx, "demo", PullOptions{})
			var te *safepath.TreeError
			if !errors.As(err, &te) || te.Entry != link {
				t.Errorf("repair = %v, want a refusal naming %s", err, link)
			}
			check()
			// one that stays inside passes it, and the write refuses it
			os.Remove(p)
			if err := os.Symlink("../../init/init.json", p); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(filepath.Join(dir, "init", "init.json"))
			_, err = fx.pull(ctx, "demo", PullOptions{})
			var le *safepath.LinkError
			if !errors.As(err, &le) || le.Link != link {
				t.Errorf("repair = %v, want a refusal naming %s", err, link)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, "init", "init.json")); string(after) != string(before) {
				t.Errorf("init.json was written through the link")
			}
		})
	}
}

// The manifest is written through an os.Root of the model folder: a
// .modelhub that is a link out of it is refused.
func TestWriteManifest_refusesLinkedFolder(t *testing.T) {
	skipNoSymlinks(t)
	t.Parallel()
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, ".modelhub")); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, &Manifest{Complete: true}); !errors.Is(err, safepath.ErrUnsafe) {
		t.Errorf("WriteManifest = %v, want a refusal", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside: %v", ents)
	}
}

// rm deletes the links a model folder holds, never what they point to; a
// staging folder that is a link is dropped, not followed, by the next pull.
func TestRemoveAndStaging_doNotFollowLinks(t *testing.T) {
	skipNoSymlinks(t)
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")
	out, check := victim(t)
	os.Symlink(out, filepath.Join(dir, "contrib_src", "file-link"))
	os.Symlink(filepath.Dir(out), filepath.Join(dir, "contrib_src", "dir-link"))
	if err := fx.s.Remove(ctx, dir, RemoveOptions{LockTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	check()

	// A staging folder replaced by a link to a folder holding a clone marker
	// of the same commit: the pull must not resume (write) there.
	outDir := filepath.Dir(out)
	if err := writeJSON(outDir, cloneMarker, cloneInfo{URL: fx.repo.URL, Branch: "master", Commit: fx.repo.Head()}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outDir, fx.s.stagingDir("Demo")); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.checkComplete(dir)
	check()
	if ents, _ := os.ReadDir(outDir); len(ents) != 2 { // victim and .modelhub
		t.Errorf("the folder outside holds %v", ents)
	}
}

// A .trash-NAME-N folder left by a failed removal is removed by the next pull
// or rm of any model, unless its model is in use (its lock is held).
func TestSweepTrash(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	mk := func(name string) string {
		p := filepath.Join(fx.s.ModelsDir(), name)
		if err := os.MkdirAll(filepath.Join(p, "contrib_src"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "contrib_src", "w.bin"), []byte("x"), 0o644)
		return p
	}
	own, free, busy := mk(".trash-demo-1"), mk(".trash-other-model-2"), mk(".trash-busy-3")
	l, err := LockModel(ctx, fx.s.Home, "Busy", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{own: false, free: false, busy: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("after pull: %s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	l.Unlock()
	dir := filepath.Join(fx.s.ModelsDir(), "Demo")
	if err := fx.s.Remove(ctx, dir, RemoveOptions{LockTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(fx.s.ModelsDir()); len(ents) != 0 {
		t.Errorf("after rm: %v left", ents)
	}
}
