package fetch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A file announcing more bytes than the disk has free is refused after
// its first response, before a byte is written, with no retry: the error
// says how much is needed, how much is free and where.
func TestDownload_noSpace(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	url := srv.Add("/huge.bin", testutil.NewPattern(1<<40, 1)) // 1 TiB
	dir := t.TempDir()
	dest := filepath.Join(dir, "model", "w.bin")
	d := fastDownloader()
	d.FreeSpace = func(string) (int64, error) { return 74 << 30, nil }
	_, err := d.Fetch(t.Context(), File{URL: url, Dest: dest, Root: dir})
	var se *SpaceError
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &se) {
		t.Fatalf("err = %v, want a SpaceError", err)
	}
	want := "not enough disk space: w.bin needs 1.0 TiB more (" + url + "), but " + dir + " has 74.0 GiB free; free some space"
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q\nwant it to start %q", err, want)
	}
	if n := srv.Count("/huge.bin"); n != 1 {
		t.Errorf("%d requests, want 1 (no retry)", n)
	}
	if fi, err := os.Stat(PartPath(dest)); err == nil && fi.Size() > 0 {
		t.Errorf("%d bytes written", fi.Size())
	}
	if d.reserved != 0 {
		t.Errorf("%d bytes still reserved", d.reserved)
	}
}

// The operating system's figure: no disk has an exbibyte free.
func TestDownload_noSpaceOS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	free, err := diskFree(dir)
	if err != nil {
		t.Skipf("SKIP: free space unknown here: %v", err)
	}
	if free <= 0 {
		t.Fatalf("free space of %s: %d", dir, free)
	}
	srv := testutil.NewFileServer(t)
	url := srv.Add("/huge.bin", testutil.NewPattern(1<<60, 1))
	_, err = fastDownloader().Fetch(t.Context(), File{URL: url, Dest: filepath.Join(dir, "w.bin")})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "needs 1.0 EiB more") {
		t.Fatalf("err = %v", err)
	}
}

// Files downloading together count each other's needs; a resume needs
// only the bytes missing.
func TestDownload_spaceReserved(t *testing.T) {
	t.Parallel()
	srv := testutil.NewFileServer(t)
	a := srv.Add("/a.bin", testutil.NewPattern(6<<20, 1))
	b := srv.Add("/b.bin", testutil.NewPattern(6<<20, 2))
	srv.SetFault("/a.bin", testutil.Fault{RateLimit: 1 << 20})
	srv.SetFault("/b.bin", testutil.Fault{RateLimit: 1 << 20})
	dir := t.TempDir()
	d := fastDownloader()
	d.Jobs = 2
	d.FreeSpace = func(string) (int64, error) { return 10 << 20, nil }
	_, err := d.Download(t.Context(), []File{{URL: a, Dest: filepath.Join(dir, "a.bin")}, {URL: b, Dest: filepath.Join(dir, "b.bin")}})
	var se *SpaceError
	// (the first file may have written a few bytes of its 6 MiB already)
	if !errors.As(err, &se) || se.Others <= 5<<20 || se.Others > 6<<20 || se.Need != 6<<20 || !strings.Contains(err.Error(), " MiB of it taken by the files downloading alongside)") {
		t.Fatalf("err = %v", err)
	}
	if d.reserved != 0 {
		t.Errorf("%d bytes still reserved", d.reserved)
	}

	// alone, each fits
	srv.SetFault("/a.bin", testutil.Fault{})
	d.Jobs = 1
	if _, err := d.Download(t.Context(), []File{{URL: a, Dest: filepath.Join(dir, "a.bin")}}); err != nil {
		t.Fatal(err)
	}
}
