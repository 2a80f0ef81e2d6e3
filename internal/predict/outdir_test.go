package predict

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Every file predict writes in -o DIR refuses a link planted there, wherever
// it points, and leaves the target alone.
func TestOutDir_refusesLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	t.Parallel()
	for _, tc := range []struct {
		link  string
		write func(dir string) error
		ok    bool // a link where predict writes none of its files is no error
	}{
		{ResultsFile, func(dir string) error { _, err := openResults(dir, false); return err }, false},
		{ResultsFile, func(dir string) error { _, _, _, err := readDone(dir); return err }, false},
		{ProvenanceFile, func(dir string) error { return WriteProvenance(dir, &Provenance{Model: "m"}) }, false},
		{ProvenanceFile + ".tmp", func(dir string) error { return WriteProvenance(dir, &Provenance{Model: "m"}) }, false},
		{ProvenanceFile, func(dir string) error { _, err := ReadProvenance(dir); return err }, false},
		{"case", func(dir string) error { return CheckOutDir(dir) }, true},
		{"case", func(dir string) error {
			r, _ := os.OpenRoot(dir)
			defer r.Close()
			return checkOut(r, dir, "case/out.png", "case/out.png.part")
		}, false},
		{"case/out.png.part", func(dir string) error {
			os.MkdirAll(filepath.Join(dir, "case"), 0o755)
			r, _ := os.OpenRoot(dir)
			defer r.Close()
			return checkOut(r, dir, "case/out.png", "case/out.png.part")
		}, false},
	} {
		t.Run(tc.link, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "results")
			victim := filepath.Join(base, "victim")
			os.WriteFile(victim, []byte("precious"), 0o644)
			p := filepath.Join(dir, filepath.FromSlash(tc.link))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(victim, p); err != nil {
				t.Fatal(err)
			}
			err := tc.write(dir)
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			var le *OutLinkError
			if !errors.As(err, &le) || !errors.Is(err, ErrOutLink) || le.Link.Link != tc.link || !strings.Contains(err.Error(), "is a symbolic link (to ") {
				t.Fatalf("err = %v, want a refusal naming %s", err, tc.link)
			}
			if got, _ := os.ReadFile(victim); string(got) != "precious" {
				t.Errorf("the link's target now holds %q", got)
			}
		})
	}
}
