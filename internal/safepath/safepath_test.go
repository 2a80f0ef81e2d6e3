package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestIsReserved(t *testing.T) {
	for _, s := range []string{"CON", "con", "Prn", "AUX", "nul", "NUL.txt", "nul.tar.gz", "COM0", "com9", "LPT1", "lpt9.bin", "COM\u00b9", "lpt\u00b3", "CON ", "con .txt", "CONIN$", "conout$"} {
		if !IsReserved(s) {
			t.Errorf("IsReserved(%q) = false", s)
		}
	}
	for _, s := range []string{"console", "CONx", "nullnet", "com10", "lpt", "COM", "xcon", "aux-data", "a.con", "COM\u2074"} {
		if IsReserved(s) {
			t.Errorf("IsReserved(%q) = true", s)
		}
	}
}

func TestCheckRel(t *testing.T) {
	for p, want := range map[string]string{
		"/contrib_src/model/w.bin": "contrib_src/model/w.bin",
		`contrib_src\model\w.bin`:  "contrib_src/model/w.bin",
		"./a//b/./c":               "a/b/c",
		"a.b/c d/é":                "a.b/c d/é",
		".hidden/x":                ".hidden/x",
	} {
		if got, err := CheckRel(p); err != nil || got != want {
			t.Errorf("CheckRel(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
	for p, why := range map[string]string{
		"":              "names the model folder itself",
		"/":             "names the model folder itself",
		"../x":          "leaves the model folder",
		"a/../../x":     "leaves the model folder",
		".git./config":  `".git." ends with a dot or a space`,
		"a /b":          `"a " ends with a dot or a space`,
		"a/nul":         `"nul" is a Windows device name`,
		"a/COM1.bin":    `"COM1.bin" is a Windows device name`,
		"a/b:c":         "contains one of",
		`\\?\C:\x`:      "UNC or device path",
		`\\.\pipe\x`:    "UNC or device path",
		`\\srv\share\x`: "UNC or device path",
		"//srv/share/x": "UNC or device path",
		"C:/x":          "names a drive",
		"c:x":           "names a drive",
		"a/\x00":        "control character",
		"a/b\x7f":       "control character",
		"a/\xff":        "invalid UTF-8",
	} {
		_, err := CheckRel(p)
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckRel(%q) = %v, want %q", p, err, why)
		}
	}
}

func TestKey(t *testing.T) {
	same := [][2]string{
		{"contrib_src/model/w.bin", "CONTRIB_SRC/Model/W.BIN"},
		{"a/w.bin", "a/w.bin."},
		{"a/w.bin", "a/w.bin . "},
		{"a./b", "a/b"},
		{"caf\u00e9", "cafe\u0301"},
		{"stra\u00dfe", "STRASSE"},
	}
	for _, p := range same {
		if Key(p[0]) != Key(p[1]) {
			t.Errorf("Key(%q) = %q != Key(%q) = %q", p[0], Key(p[0]), p[1], Key(p[1]))
		}
	}
	if Key("a/b") == Key("a/c") || Key("ab") == Key("a/b") {
		t.Error("different paths share a key")
	}
}

func TestCheckLinks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "f"), nil, 0o644)
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, ok := range []string{"a/b/new", "a/f", "new/deeper/x", "a/b"} {
		if err := CheckWrite(r, ok); err != nil {
			t.Errorf("CheckWrite(%q) = %v", ok, err)
		}
	}
	var le *LinkError
	if err := CheckLinks(r, "a/f/x"); !errors.As(err, &le) || !le.NotDir || le.Link != "a/f" {
		t.Errorf("through a file: %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	os.Symlink("b", filepath.Join(dir, "a", "l"))
	os.Symlink("../../outside", filepath.Join(dir, "a", "b", "x.part.json"))
	if err := CheckWrite(r, "a/l/x"); !errors.As(err, &le) || le.Link != "a/l" || le.Target != "b" || le.Path != "a/l/x" {
		t.Errorf("through a link: %v", err)
	}
	err = CheckWrite(r, "a/b/x")
	if !errors.As(err, &le) || le.Link != "a/b/x.part.json" || le.Path != "a/b/x" {
		t.Errorf("a sidecar link: %v", err)
	}
	if want := "a/b/x: a/b/x.part.json is a symbolic link (to ../../outside)"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
}

// Whatever CheckRel accepts is a clean, relative, slash-separated path whose
// every segment passes CheckSegment, and checking it again changes nothing.
func FuzzCheckRel(f *testing.F) {
	for _, s := range []string{"/contrib_src/model/w.bin", `a\b\c`, "../x", ".git./config", "CON", "a/nul.txt", `\\?\C:\x`, "c:x", "caf\u00e9", "a//./b", "w.bin:ads", " a /b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := CheckRel(p)
		_ = Key(p)
		if err != nil {
			if !errors.Is(err, ErrUnsafe) || strings.ContainsRune(err.Error(), '\n') && !strings.ContainsRune(p, '\n') {
				t.Fatalf("CheckRel(%q): bad error %v", p, err)
			}
			return
		}
		if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, `\`) || !filepath.IsLocal(filepath.FromSlash(rel)) && runtime.GOOS != "windows" {
			t.Fatalf("CheckRel(%q) = %q: not a clean relative path", p, rel)
		}
		for _, seg := range strings.Split(rel, "/") {
			if err := CheckSegment(seg); err != nil {
				t.Fatalf("CheckRel(%q) = %q with segment %q: %v", p, rel, seg, err)
			}
		}
		if again, err := CheckRel(rel); err != nil || again != rel {
			t.Fatalf("CheckRel(%q) = %q, but CheckRel(%q) = %q, %v", p, rel, rel, again, err)
		}
		if n, m := strings.Count(rel, "/"), strings.Count(Key(rel), "/"); n != m {
			t.Fatalf("Key(%q) = %q changes the number of segments", rel, Key(rel))
		}
	})
}

// CreateNew never writes through what is at the path: a planted link is
// replaced by a new file, and its target keeps its bytes.
func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	victim, p := filepath.Join(dir, "victim"), filepath.Join(dir, "out.part")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	if err := os.Symlink("victim", p); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	f, err := CreateNew(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new")
	f.Close()
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Fatalf("written through the link: %q", b)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("not a new regular file: %v %v", fi, err)
	}
	// a left-over file is replaced, not appended to
	f, err = CreateNew(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Fatalf("left-over kept: %q", b)
	}
}
