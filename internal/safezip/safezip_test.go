package safezip

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name   string
	data   []byte
	mode   fs.FileMode // 0: a regular file
	method uint16
	flags  uint16
}

func writeZip(t *testing.T, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: e.method}
		if h.Method == 0 && e.data != nil {
			h.Method = zip.Deflate
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
		h.Flags |= e.flags
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "up.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtract_series(t *testing.T) {
	src := writeZip(t,
		entry{name: "export/"},
		entry{name: "export/series1/IM0001", data: []byte("one")},
		entry{name: "export\\series1\\IM0002", data: []byte("two")},
		entry{name: "./export/series2/IM0001", data: bytes.Repeat([]byte{0}, 5000)},
		entry{name: "__MACOSX/export/._IM0001", data: []byte("apple")},
	)
	if !IsZip(src) {
		t.Fatal("IsZip is false for a zip")
	}
	dir := t.TempDir()
	res, err := Extract(context.Background(), src, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || res.Bytes != 3+3+5000+5 {
		t.Errorf("result %+v, want 4 files, 5011 bytes", res)
	}
	for p, want := range map[string]string{"export/series1/IM0001": "one", "export/series1/IM0002": "two"} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "export", "series2", "IM0001")); err != nil || fi.Size() != 5000 {
		t.Errorf("series2/IM0001: %v %v", fi, err)
	}
}

func TestExtract_hostile(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 64<<10) // compresses to about 100 bytes
	cases := []struct {
		name    string
		entries []entry
		limits  Limits
		want    string
	}{
		{"zip-slip", []entry{{name: "ok/IM1", data: []byte("x")}, {name: "../../evil", data: []byte("x")}}, Limits{}, `"../../evil" leads out of the folder`},
		{"slip inside", []entry{{name: "a/../../evil", data: []byte("x")}}, Limits{}, "leads out of the folder"},
		{"backslash slip", []entry{{name: "..\\evil", data: []byte("x")}}, Limits{}, "leads out of the folder"},
		{"absolute", []entry{{name: "/etc/evil", data: []byte("x")}}, Limits{}, `"/etc/evil" is an absolute path`},
		{"drive letter", []entry{{name: "C:/evil", data: []byte("x")}}, Limits{}, "is an absolute path"},
		{"symbolic link", []entry{{name: "link", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}}, Limits{}, `"link" is a symbolic link`},
		{"link then write through it", []entry{{name: "d", data: []byte("/tmp"), mode: fs.ModeSymlink | 0o777}, {name: "d/evil", data: []byte("x")}}, Limits{}, "is a symbolic link"},
		{"device", []entry{{name: "dev", data: []byte{}, mode: fs.ModeDevice | 0o600}}, Limits{}, "is not a regular file"},
		{"duplicate", []entry{{name: "IM1", data: []byte("a")}, {name: "im1", data: []byte("b")}}, Limits{}, `the name "im1" appears twice`},
		{"control character", []entry{{name: "a\x1b[31m", data: []byte("a")}}, Limits{}, "holds a control character"},
		{"too many entries", []entry{{name: "1", data: []byte("a")}, {name: "2", data: []byte("a")}, {name: "3", data: []byte("a")}}, Limits{Entries: 2}, "it holds 3 entries, more than 2"},
		{"bomb, one file", []entry{{name: "bomb", data: big}}, Limits{File: 32 << 10}, `"bomb" unpacks to more than 32768 bytes`},
		{"bomb, all files", []entry{{name: "b1", data: big}, {name: "b2", data: big}}, Limits{Total: 100 << 10}, "it unpacks to more than 102400 bytes"},
		{"too deep", []entry{{name: "a/b/c/d", data: []byte("x")}}, Limits{Depth: 3}, "is 4 folders deep, more than 3"},
		{"long name", []entry{{name: strings.Repeat("n", 600), data: []byte("x")}}, Limits{}, "more than 512"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := writeZip(t, c.entries...)
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(context.Background(), src, dir, c.limits)
			if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a refusal with %q", err, c.want)
			}
			// nothing outside dir, no link inside it
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 {
				t.Errorf("written beside the folder: %v", entries)
			}
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type()&fs.ModeSymlink != 0 {
					t.Errorf("a link was made: %s", p)
				}
				return nil
			})
		})
	}
}

// A zip whose headers lie about the sizes still stops at the limit: the
// bytes decompressed are counted, not the sizes claimed.
func TestExtract_lyingSizes(t *testing.T) {
	src := writeZip(t, entry{name: "bomb", data: bytes.Repeat([]byte{0}, 200<<10)})
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// claim 10 bytes uncompressed in the central directory
	i := bytes.LastIndex(raw, []byte("PK\x01\x02"))
	copy(raw[i+24:i+28], []byte{10, 0, 0, 0})
	if err := os.WriteFile(src, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Extract(context.Background(), src, dir, Limits{File: 64 << 10})
	if err == nil || !errors.Is(err, ErrRefused) {
		t.Fatalf("error %v, want a refusal", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bomb")); err == nil && fi.Size() > 64<<10+1 {
		t.Errorf("wrote %d bytes past the limit", fi.Size())
	}
}

func TestExtract_notZip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.zip")
	if err := os.WriteFile(p, []byte("PK\x03\x04 but nothing else"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(context.Background(), p, t.TempDir(), Limits{})
	if err == nil || !strings.Contains(err.Error(), "not a readable zip archive") {
		t.Fatalf("error %v", err)
	}
	if IsZip(filepath.Join(t.TempDir(), "missing")) {
		t.Error("IsZip of a missing file")
	}
}

func TestExtract_canceled(t *testing.T) {
	src := writeZip(t, entry{name: "a", data: []byte("x")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Extract(ctx, src, t.TempDir(), Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
