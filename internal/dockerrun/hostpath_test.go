package dockerrun

import (
	"os"
	"path/filepath"
	"runtime"
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
