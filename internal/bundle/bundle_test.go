package bundle

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// fakeModel makes a complete downloaded model name at commit under home.
func fakeModel(t *testing.T, home, name, commit, image string, files map[string]string) {
	t.Helper()
	dir := store.Dir(home, name)
	for p, body := range files {
		fp := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	man := &store.Manifest{Entry: registry.Entry{Name: name, GitHub: "https://example.invalid/" + name}, Commit: commit, DockerID: image, Complete: true}
	if err := store.WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
}

var demoFiles = map[string]string{
	"init/init.json":              `{"docker_id": "img:1"}`,
	"contrib_src/run.py":          "print('hi')\n",
	"contrib_src/model/weights.b": strings.Repeat("w", 300000),
}

type env struct {
	home, out string
	saver     *fakeImages
}

// saved writes a bundle of model demo (and extra models) and returns its path.
func saved(t *testing.T, comp Compression, extra ...string) env {
	t.Helper()
	e := env{home: t.TempDir()}
	e.out = filepath.Join(t.TempDir(), "b.mhb")
	fakeModel(t, e.home, "demo", "c0ffee01", "img:1", demoFiles)
	names := []string{"demo"}
	for _, n := range extra {
		fakeModel(t, e.home, n, "beef02", "img:1", map[string]string{"init/init.json": "{}", "x/y.txt": n})
		names = append(names, n)
	}
	e.saver = &fakeImages{images: map[string]dockerrun.Image{"img:1": {ID: fakeID, Size: 10000}}}
	_, err := Save(context.Background(), SaveOptions{Store: &store.Store{Home: e.home}, Models: names, Output: e.out, Compression: comp, Docker: e.saver, Now: func() time.Time { return time.Unix(1e9, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func load(t *testing.T, path, home string, d *fakeImages, force bool) (*LoadResult, error) {
	t.Helper()
	return Load(context.Background(), LoadOptions{Path: path, Store: &store.Store{Home: home}, Docker: d, Force: force})
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return got
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, comp := range []Compression{None, Gzip, Zstd} {
		t.Run(string(comp), func(t *testing.T) {
			e := saved(t, comp, "other")
			if _, err := os.Stat(e.out + ".part"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf(".part left behind: %v", err)
			}
			man, err := Read(e.out)
			if err != nil {
				t.Fatal(err)
			}
			if len(man.Models) != 2 || len(man.Images) != 1 || man.Images[0].ID != fakeID || man.Models[0].Commit != "c0ffee01" {
				t.Fatalf("manifest: %+v", man)
			}
			img := man.Entries[len(man.Entries)-1]
			if img.Path != ImagesName || img.Size != int64(len(e.saver.export)) {
				t.Fatalf("images entry %+v, export is %d bytes", img, len(e.saver.export))
			}

			home := t.TempDir()
			d := &fakeImages{onLoad: e.saver.images}
			res, err := load(t, e.out, home, d, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Models) != 2 || res.Models[0].Status != StatusInstalled || !res.ImagesLoaded {
				t.Fatalf("result %+v", res)
			}
			want, got := readTree(t, store.Dir(e.home, "demo")), readTree(t, store.Dir(home, "demo"))
			if len(got) != len(want) {
				t.Fatalf("loaded %v, want %v", keys(got), keys(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s differs", k)
				}
			}
			if !store.IsComplete(store.Dir(home, "other")) {
				t.Error("other is not installed")
			}
			// Docker got one export naming no image; modelhub tagged it.
			if len(d.loaded) != 1 || strings.Contains(strings.ToLower(string(d.streams[0])), "repotags") {
				t.Errorf("engine loaded %d stream(s), manifests %q", len(d.loaded), d.streams)
			}
			if im, err := d.ImageInspect(context.Background(), "img:1"); err != nil || im.ID != fakeID {
				t.Errorf("img:1 after the load: %+v, %v", im, err)
			}
			leftovers(t, home)

			// again: unchanged, and the images are present so only verified
			res, err = load(t, e.out, home, d, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Models[0].Status != StatusUnchanged || res.ImagesLoaded || len(d.loaded) != 1 {
				t.Errorf("second load: %+v, engine loads %d", res.Models, len(d.loaded))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}

// leftovers fails when a staging folder remains under home.
func leftovers(t *testing.T, home string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(home, "models"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestLoadOtherVersion(t *testing.T) {
	e := saved(t, None)
	home := t.TempDir()
	fakeModel(t, home, "demo", "0ld", "img:1", map[string]string{"old.txt": "old"})
	d := &fakeImages{onLoad: e.saver.images}
	_, err := load(t, e.out, home, d, false)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "pass --force") {
		t.Fatalf("err = %v", err)
	}
	if got := readTree(t, store.Dir(home, "demo")); got["old.txt"] != "old" || len(d.loaded) != 0 {
		t.Errorf("the installed version changed or images were loaded: %v %v", keys(got), d.loaded)
	}
	res, err := load(t, e.out, home, d, true)
	if err != nil {
		t.Fatal(err)
	}
	got := readTree(t, store.Dir(home, "demo"))
	if res.Models[0].Status != StatusReplaced || got["old.txt"] != "" || got["contrib_src/run.py"] == "" {
		t.Errorf("--force: %+v, files %v", res.Models, keys(got))
	}
	leftovers(t, home)
}

func TestSaveRefuses(t *testing.T) {
	home := t.TempDir()
	fakeModel(t, home, "demo", "c1", "img:1", demoFiles)
	d := &fakeImages{images: map[string]dockerrun.Image{"img:1": {ID: fakeID}}}
	out := filepath.Join(t.TempDir(), "x.mhb")
	save := func(o SaveOptions) error {
		o.Store, o.Output, o.Docker = &store.Store{Home: home}, out, d
		if o.Models == nil {
			o.Models = []string{"demo"}
		}
		_, err := Save(context.Background(), o)
		return err
	}
	// an existing output is kept unless --force
	os.WriteFile(out, []byte("mine"), 0o644)
	if err := save(SaveOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("existing output: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine" {
		t.Error("existing output overwritten")
	}
	if err := save(SaveOptions{Force: true}); err != nil {
		t.Errorf("--force: %v", err)
	}
	os.Remove(out)
	// not downloaded
	if err := save(SaveOptions{Models: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "not downloaded") {
		t.Errorf("missing model: %v", err)
	}
	// a symlink inside the model
	link := filepath.Join(store.Dir(home, "demo"), "contrib_src", "passwd")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Skip(err)
	}
	if err := save(SaveOptions{}); err == nil || !strings.Contains(err.Error(), "symbolic link contrib_src/passwd") {
		t.Errorf("symlink: %v", err)
	}
	os.Remove(link)
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed save left the output")
	}
	// a link planted as OUTPUT.part (or .part.tar) in a shared folder is
	// replaced, never written through
	victim := filepath.Join(filepath.Dir(out), "victim")
	for _, comp := range []Compression{None, Gzip} {
		os.WriteFile(victim, []byte("keep me"), 0o644)
		os.Symlink("victim", out+".part")
		os.Symlink("victim", out+".part.tar")
		if err := save(SaveOptions{Compression: comp}); err != nil {
			t.Fatalf("%s with planted .part links: %v", comp, err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep me" {
			t.Fatalf("%s: written through a planted .part link (%d bytes)", comp, len(b))
		}
		if fi, err := os.Lstat(out); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: the bundle is not a regular file: %v", comp, err)
		}
		os.Remove(out)
		os.Remove(out + ".part.tar")
	}
}

// fullFile fails with ENOSPC once limit bytes were written.
type fullFile struct {
	*os.File
	limit int64
	n     int64
}

func (f *fullFile) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) > f.limit {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.n += int64(len(p))
	return f.File.Write(p)
}

func TestSaveDiskFull(t *testing.T) {
	for _, comp := range []Compression{None, Zstd} {
		for _, limit := range []int64{100, 200000, 1 << 40} {
			home := t.TempDir()
			fakeModel(t, home, "demo", "c1", "img:1", demoFiles)
			d := &fakeImages{images: map[string]dockerrun.Image{"img:1": {ID: fakeID}}}
			dir := t.TempDir()
			out := filepath.Join(dir, "x.mhb")
			calls := 0
			_, err := Save(context.Background(), SaveOptions{Store: &store.Store{Home: home}, Models: []string{"demo"}, Output: out, Docker: d, Compression: comp,
				create: func(p string) (outFile, error) {
					f, err := os.Create(p)
					calls++
					l := limit
					if limit == 1<<40 && calls == 2 { // the compressed file
						l = 100
					}
					return &fullFile{File: f, limit: l}, err
				}})
			if limit == 1<<40 && comp == None {
				if err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), "the disk is full") {
				t.Errorf("%s limit %d: err = %v", comp, limit, err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("%s limit %d: left %v", comp, limit, ents)
			}
		}
	}
}

func TestLoadDiskFull(t *testing.T) {
	e := saved(t, None)
	home := t.TempDir()
	fakeModel(t, home, "demo", "0ld", "img:1", map[string]string{"old.txt": "old"})
	d := &fakeImages{onLoad: e.saver.images}
	_, err := Load(context.Background(), LoadOptions{Path: e.out, Store: &store.Store{Home: home}, Docker: d, Force: true,
		openFile: func(root *os.Root, name string, mode os.FileMode) (io.WriteCloser, error) {
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			return &fullFile{File: f, limit: 1000}, err
		}})
	if err == nil || !strings.Contains(err.Error(), "install demo: the disk is full") {
		t.Fatalf("err = %v", err)
	}
	if got := readTree(t, store.Dir(home, "demo")); got["old.txt"] != "old" || len(got) != 2 {
		t.Errorf("installed version changed: %v", keys(got))
	}
	if len(d.loaded) != 0 {
		t.Error("images were loaded")
	}
	leftovers(t, home)
}

// Ctrl-C (a cancelled context) in the middle of a save or a load leaves
// nothing: no bundle, no .part, no model, no staging folder.
func TestInterrupted(t *testing.T) {
	e := saved(t, None)
	ctx, cancel := context.WithCancel(context.Background())
	out := filepath.Join(t.TempDir(), "x.mhb")
	e.saver.called = cancel
	_, err := Save(ctx, SaveOptions{Store: &store.Store{Home: e.home}, Models: []string{"demo"}, Output: out, Docker: e.saver})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("save: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("save left %v", ents)
	}

	home := t.TempDir()
	ctx, cancel = context.WithCancel(context.Background())
	d := &fakeImages{onLoad: e.saver.images, called: cancel}
	_, err = Load(ctx, LoadOptions{Path: e.out, Store: &store.Store{Home: home}, Docker: d})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("load: %v", err)
	}
	if store.Installed(home) != nil {
		t.Errorf("load installed %v", store.Installed(home))
	}
	leftovers(t, home)
}
