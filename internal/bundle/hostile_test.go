package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/modelhub-ai/modelhub/internal/store"
)

type craftEntry struct {
	hdr  tar.Header
	body string
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// craft writes a bundle of man followed by entries, as an attacker could.
func craft(t *testing.T, man any, entries ...craftEntry) string {
	t.Helper()
	data, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: ManifestName, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write(data)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "evil.mhb")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneModel is a valid manifest of model demo holding one file entry path.
func oneModel(path, body string) *Manifest {
	return &Manifest{Format: Format, Version: FormatVersion,
		Models:  []Model{{Name: "demo", Commit: "c1"}},
		Entries: []Entry{{Path: path, Type: TypeFile, Mode: 0o644, Size: int64(len(body)), SHA256: sum(body)}}}
}

func reg(name, body string) craftEntry {
	return craftEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: body}
}

func TestLoadHostile(t *testing.T) {
	good := "models/demo/a.txt"
	valid := saved(t, None)
	validBytes, _ := os.ReadFile(valid.out)
	at := func(s string) int {
		i := bytes.Index(validBytes, []byte(s))
		if i < 0 {
			t.Fatalf("%q not in the bundle", s)
		}
		return i
	}
	variant := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "v.mhb")
		os.WriteFile(p, b, 0o644)
		return p
	}
	flip := func(i int) string {
		b := bytes.Clone(validBytes)
		b[i] ^= 0xff
		return variant(b)
	}
	imagesAt := len(validBytes) - 1024 - len(valid.saver.export) - (512-len(valid.saver.export)%512)%512
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf)
	zw.Write(validBytes)
	zw.Close()
	zdata := zbuf.Bytes()
	zflip := bytes.Clone(zdata)
	zflip[len(zflip)/2] ^= 0xff

	v2 := oneModel(good, "x")
	v2.Version = 2
	tests := []struct {
		name, path string
		want       error
		msg        string
	}{
		{"empty file", variant(nil), ErrNotBundle, "not a tar archive"},
		{"text file", variant([]byte("hello, this is not a bundle\n")), ErrNotBundle, "not a tar archive"},
		{"other tar", craftPlain(t), ErrNotBundle, "does not start with modelhub-bundle.json"},
		{"bad manifest JSON", craft(t, json.RawMessage(`"x"`)), ErrNotBundle, "not valid JSON"},
		{"other format", craft(t, map[string]any{"format": "zip", "version": 1}), ErrNotBundle, `format "zip"`},
		{"newer version", craft(t, v2, reg(good, "x")), ErrNewerFormat, "version 2, this modelhub reads up to 1; upgrade modelhub"},
		{"truncated in the manifest", variant(validBytes[:700]), ErrDamaged, "truncated"},
		{"truncated in a file", variant(validBytes[:at("wwww")+1000]), ErrDamaged, "truncated"},
		{"truncated in the images", variant(validBytes[:imagesAt+5000]), ErrDamaged, "truncated"},
		{"truncated before the images", variant(validBytes[:imagesAt-512]), ErrDamaged, "truncated (it ends before images.tar)"},
		{"tampered file", flip(at("wwww") + 7), ErrDamaged, "models/demo/contrib_src/model/weights.b does not match its checksum"},
		{"tampered images", flip(imagesAt + 3000), ErrDamaged, "images.tar does not match its checksum"},
		{"tampered header", flip(bytes.LastIndex(validBytes, []byte("models/demo/init/init.json")) + 3), ErrDamaged, ""},
		{"tampered zstd", variant(zflip), ErrDamaged, ""},
		{"truncated zstd", variant(zdata[:len(zdata)-10]), ErrDamaged, ""},
		{"dotdot in the tar", craft(t, oneModel(good, "x"), reg("models/demo/../../../evil.txt", "x")), ErrUnsafe, "path goes up with .."},
		{"absolute in the tar", craft(t, oneModel(good, "x"), reg("/tmp/evil.txt", "x")), ErrUnsafe, "absolute path"},
		{"symlink", craft(t, oneModel(good, "x"), craftEntry{hdr: tar.Header{Name: good, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), ErrUnsafe, "is a symbolic link"},
		{"hard link", craft(t, oneModel(good, "x"), craftEntry{hdr: tar.Header{Name: good, Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}), ErrUnsafe, "is a hard link"},
		{"device", craft(t, oneModel(good, "x"), craftEntry{hdr: tar.Header{Name: good, Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), ErrUnsafe, "is a device file"},
		{"fifo", craft(t, oneModel(good, "x"), craftEntry{hdr: tar.Header{Name: good, Typeflag: tar.TypeFifo}}), ErrUnsafe, "named pipe"},
		{"duplicate in the tar", craft(t, &Manifest{Format: Format, Version: 1, Models: []Model{{Name: "demo", Commit: "c1"}},
			Entries: []Entry{{Path: good, Type: TypeFile, Size: 1, SHA256: sum("x")}, {Path: "models/demo/b", Type: TypeFile, Size: 1, SHA256: sum("x")}}},
			reg(good, "x"), reg(good, "x")), ErrUnsafe, `"models/demo/a.txt" appears twice`},
		{"duplicate in the manifest", craft(t, &Manifest{Format: Format, Version: 1, Models: []Model{{Name: "demo", Commit: "c1"}},
			Entries: []Entry{{Path: good, Type: TypeFile, Size: 1, SHA256: sum("x")}, {Path: "models/demo/A.txt", Type: TypeFile, Size: 1, SHA256: sum("x")}}},
			reg(good, "x"), reg("models/demo/A.txt", "x")), ErrUnsafe, "appears twice"},
		{"dotdot in the manifest", craft(t, oneModel("models/demo/../../evil.txt", "x"), reg("models/demo/../../evil.txt", "x")), ErrUnsafe, "path goes up with .."},
		{"absolute in the manifest", craft(t, oneModel("/evil.txt", "x"), reg("/evil.txt", "x")), ErrUnsafe, "absolute path"},
		{"outside the models", craft(t, oneModel("evil.txt", "x"), reg("evil.txt", "x")), ErrUnsafe, "not inside a listed model's folder"},
		{"bad model name", craft(t, &Manifest{Format: Format, Version: 1, Models: []Model{{Name: "../x"}}}), ErrUnsafe, "model name"},
		{"extra entry", craft(t, oneModel(good, "x"), reg(good, "x"), reg("models/demo/more", "y")), ErrDamaged, "entries its manifest does not list"},
		{"unlisted entry", craft(t, oneModel(good, "x"), reg("models/demo/other", "x")), ErrDamaged, "is not the next one"},
		{"wrong size", craft(t, oneModel(good, "x"), reg(good, "xy")), ErrDamaged, "does not match its manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			home := filepath.Join(outside, "home")
			d := &fakeImages{onLoad: valid.saver.images}
			cwd, _ := os.Getwd()
			os.Chdir(outside)
			defer os.Chdir(cwd)
			_, err := load(t, tc.path, home, d, false)
			t.Log(err)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.HasPrefix(err.Error(), tc.path+": ") {
				t.Errorf("error does not name the bundle: %v", err)
			}
			if len(d.loaded) != 0 {
				t.Errorf("the engine loaded %d complete image stream(s)", len(d.loaded))
			}
			if store.Installed(home) != nil {
				t.Errorf("installed: %v", store.Installed(home))
			}
			leftovers(t, home)
			// nothing outside home
			ents, _ := os.ReadDir(outside)
			for _, e := range ents {
				if e.Name() != "home" {
					t.Errorf("written outside home: %s", e.Name())
				}
			}
			if _, err := os.Stat("/tmp/evil.txt"); err == nil {
				t.Error("/tmp/evil.txt written")
			}
		})
	}
}

// craftPlain is a tar without a bundle manifest.
func craftPlain(t *testing.T) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "README", Size: 2, Mode: 0o644})
	tw.Write([]byte("hi"))
	tw.Close()
	p := filepath.Join(t.TempDir(), "plain.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}
