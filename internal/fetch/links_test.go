package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/safepath"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A download never writes through a symbolic link a model repository placed
// on its path: not through its .part, its sidecar, the file itself or a parent
// folder, whether the link points out of the model folder or into it (.git).
func TestDownload_refusesLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.AddBytes("/w.bin", []byte("downloaded bytes"))
	for _, tc := range []struct {
		name, link, target string
	}{
		{"part", "contrib_src/model/w.bin.part", "../../../outside/victim"},
		{"sidecar", "contrib_src/model/w.bin.part.json", "../../../outside/victim"},
		{"dest", "contrib_src/model/w.bin", "../../../outside/victim"},
		{"parent", "contrib_src/model", "../../outside"},
		{"parent into .git", "contrib_src/model", "../.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			model := filepath.Join(base, "model")
			outside := filepath.Join(base, "outside")
			for _, d := range []string{filepath.Join(model, "contrib_src"), filepath.Join(model, ".git"), outside} {
				os.MkdirAll(d, 0o755)
			}
			victim := filepath.Join(outside, "victim")
			os.WriteFile(victim, []byte("precious"), 0o644)
			gitConfig := filepath.Join(model, ".git", "w.bin")
			link := filepath.Join(model, filepath.FromSlash(tc.link))
			os.MkdirAll(filepath.Dir(link), 0o755)
			if err := os.Symlink(filepath.FromSlash(tc.target), link); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(model, "contrib_src", "model", "w.bin")
			_, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest, Root: model})
			var le *safepath.LinkError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.link+" is a symbolic link") {
				t.Fatalf("Fetch = %v, want a refusal naming %s", err, tc.link)
			}
			if got, _ := os.ReadFile(victim); string(got) != "precious" {
				t.Errorf("the file outside now holds %q", got)
			}
			if _, err := os.Stat(gitConfig); err == nil {
				t.Errorf("a file was written into .git")
			}
			if n := len(srv.Requests("/w.bin")); n != 0 {
				t.Errorf("%d requests: nothing may be downloaded", n)
			}
		})
	}
}

// Without a Root, Dest's own folder confines the download: a .part linked out
// of it is refused too.
func TestDownload_refusesLinksWithoutRoot(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.AddBytes("/w.bin", []byte("downloaded bytes"))
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	dest := filepath.Join(dir, "w.bin")
	os.Symlink(victim, PartPath(dest))
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: dest}); !errors.Is(err, safepath.ErrUnsafe) {
		t.Fatalf("Fetch = %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious" {
		t.Errorf("the file outside now holds %q", got)
	}
	// A Dest outside its Root is refused before anything is opened.
	if _, err := fastDownloader().Fetch(context.Background(), File{URL: url, Dest: victim, Root: dir}); err == nil || !strings.Contains(err.Error(), "is not inside") {
		t.Errorf("Fetch outside Root = %v", err)
	}
}
