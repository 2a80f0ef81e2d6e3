package dockerrun

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestEngineForm(t *testing.T) {
	for _, tc := range []struct{ goos, in, want string }{
		{"windows", `C:\Users\me\models\x\contrib_src`, `C:\Users\me\models\x\contrib_src`},
		{"windows", `c:/Users/me/models/x`, `C:\Users\me\models\x`},
		{"windows", `\\server\share\models`, `\\server\share\models`},
		{"linux", "/home/me/.local/share/modelhub/models/x", "/home/me/.local/share/modelhub/models/x"},
		{"darwin", "/Users/me/Library/Application Support/modelhub/models/x", "/Users/me/Library/Application Support/modelhub/models/x"},
	} {
		if got := engineForm(tc.goos, tc.in); got != tc.want {
			t.Errorf("engineForm(%s, %q) = %q, want %q", tc.goos, tc.in, got, tc.want)
		}
	}
}

func TestHostPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	got, err := HostPath("real")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(real)
	if got != want || !filepath.IsAbs(got) {
		t.Errorf("HostPath(real) = %q, want %q", got, want)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got, _ := HostPath("link/../link"); got != want {
		t.Errorf("HostPath(link) = %q, want the real folder %q", got, want)
	}
}

// ModelMount follows the user's links to the model folder but refuses a
// mounted folder that is a link, under one, or not a folder.
func TestModelMount(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	base := t.TempDir()
	model := filepath.Join(base, "model")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(model, "contrib_src"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.Symlink(model, filepath.Join(base, "via"))

	got, err := ModelMount(filepath.Join(base, "via"), "contrib_src")
	want, _ := filepath.EvalSymlinks(filepath.Join(model, "contrib_src"))
	if err != nil || got != want {
		t.Fatalf("ModelMount through the user's link = %q, %v; want %q", got, err, want)
	}

	os.RemoveAll(filepath.Join(model, "contrib_src"))
	os.Symlink("../outside", filepath.Join(model, "contrib_src"))
	_, err = ModelMount(model, "contrib_src")
	var le *MountLinkError
	if !errors.As(err, &le) || le.Entry != "contrib_src" || le.Target != "../outside" {
		t.Fatalf("ModelMount of a linked contrib_src = %v, want a MountLinkError naming it and its target", err)
	}
	if want := `refusing to mount "contrib_src": it is a symbolic link to "../outside"`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}

	// a component of a deeper mounted path
	os.Remove(filepath.Join(model, "contrib_src"))
	os.MkdirAll(filepath.Join(outside, "d"), 0o755)
	os.Symlink("../outside", filepath.Join(model, "a"))
	if _, err := ModelMount(model, "a/d"); !errors.As(err, &le) || le.Entry != "a" {
		t.Fatalf("ModelMount(a/d) under a link = %v, want a refusal naming a", err)
	}
	os.WriteFile(filepath.Join(model, "contrib_src"), nil, 0o644)
	if _, err := ModelMount(model, "contrib_src"); !errors.As(err, &le) || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("ModelMount of a file = %v, want a refusal", err)
	}
	os.Remove(filepath.Join(model, "contrib_src"))
	if _, err := ModelMount(model, "contrib_src"); err == nil || !strings.Contains(err.Error(), "has no contrib_src folder") {
		t.Fatalf("ModelMount of a missing folder = %v", err)
	}
}
