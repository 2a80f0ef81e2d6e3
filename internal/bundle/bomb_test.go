package bundle

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// A gzip bomb (issue 21, "what held"): a 64 KiB .mhb.gz whose manifest
// unpacks to 64 MiB is refused from the manifest's header, before its body is
// read or held, and nothing is installed.
func TestLoadGzipBomb(t *testing.T) {
	const size = 64 << 20
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	if buf.Len() > 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed: not a bomb", buf.Len())
	}
	p := filepath.Join(t.TempDir(), "bomb.mhb.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	_, err := load(t, p, home, &fakeImages{}, false)
	if !errors.Is(err, ErrNotBundle) || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("a gzip bomb: %v, want a refusal naming the manifest's limit", err)
	}
	if _, err := os.Stat(filepath.Join(home, "models")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(home, "models")); len(ents) > 0 {
			t.Errorf("the bomb installed %d entries", len(ents))
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
