package config

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestDefaultHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvHome, "")
	t.Setenv("XDG_DATA_HOME", "")
	got, err := DefaultHome()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(home, ".local", "share", "modelhub")
	if runtime.GOOS == "darwin" {
		want = filepath.Join(home, "Library", "Application Support", "modelhub")
	}
	if runtime.GOOS != "windows" && got != want {
		t.Errorf("DefaultHome() = %q, want %q", got, want)
	}
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	if got, _ := DefaultHome(); runtime.GOOS != "windows" && got != filepath.Join(home, "data", "modelhub") {
		t.Errorf("with XDG_DATA_HOME: %q", got)
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	if got, _ := DefaultHome(); runtime.GOOS != "windows" && got != want {
		t.Errorf("a relative XDG_DATA_HOME must be ignored (XDG spec): %q", got)
	}
	t.Setenv(EnvHome, "rel/home")
	if got, _ := DefaultHome(); !filepath.IsAbs(got) || filepath.Base(got) != "home" {
		t.Errorf("MODELHUB_HOME is made absolute: %q", got)
	}
}

func TestDefaultCache(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvCache, "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "xc"))
	got, err := DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && got != filepath.Join(home, "xc", "modelhub") {
		t.Errorf("DefaultCache() = %q", got)
	}
	t.Setenv(EnvCache, filepath.Join(home, "c"))
	if got, _ := DefaultCache(); got != filepath.Join(home, "c") {
		t.Errorf("MODELHUB_CACHE ignored: %q", got)
	}
}

// --help names the default of the platform it runs on.
func TestDefaultHomeHelp(t *testing.T) {
	for goos, want := range map[string]string{
		"windows": `%LocalAppData%\modelhub`,
		"darwin":  "~/Library/Application Support/modelhub",
		"linux":   "$XDG_DATA_HOME/modelhub or ~/.local/share/modelhub",
		"freebsd": "$XDG_DATA_HOME/modelhub or ~/.local/share/modelhub",
	} {
		if got := DefaultHomeHelp(goos); got != want {
			t.Errorf("DefaultHomeHelp(%s) = %q, want %q", goos, got, want)
		}
	}
}
