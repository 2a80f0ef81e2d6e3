package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/safepath"
)

func TestParseInit(t *testing.T) {
	in, err := ParseInit([]byte(`{"docker_id": "modelhub/mxnet:1.0", "external_contrib_files": [
	  {"src_url": "https://example.invalid/w.bin", "dest_file_path": "/contrib_src/model/w.bin", "sha256": "` + strings.Repeat("ab", 32) + `"}],
	  "unknown": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.DockerID != "modelhub/mxnet:1.0" || len(in.Files) != 1 || in.Files[0].Dest != "/contrib_src/model/w.bin" || in.Files[0].SHA256 == "" {
		t.Errorf("parsed %+v", in)
	}
	if err := in.Check(t.TempDir()); err != nil {
		t.Errorf("Check: %v", err)
	}
	noFiles, err := ParseInit([]byte(`{"docker_id": "x/y:1"}`))
	if err != nil || len(noFiles.Files) != 0 || noFiles.Check(t.TempDir()) != nil {
		t.Errorf("absent external_contrib_files: %+v %v", noFiles, err)
	}
	for _, bad := range []string{``, `{"docker_id": 3}`, "{\n\"docker_id\": \"a\",\n}", `[]`} {
		if _, err := ParseInit([]byte(bad)); err == nil {
			t.Errorf("ParseInit(%q) accepted", bad)
		}
	}
	// Lines and columns are 1-based and point at the offending byte.
	for in, want := range map[string]string{
		"{\n  \"docker_id\": \"a\",\n}": "invalid JSON at line 3, column 1 (byte 22)",
		`{"docker_id": x}`:              "invalid JSON at line 1, column 15 (byte 14)",
		`{"docker_id": 5}`:              "line 1, column 15: docker_id must be string, not number",
		"{\n\t\"docker_id\": [1]}":      "line 2, column 15: docker_id must be string, not array",
	} {
		if _, err := ParseInit([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseInit(%q): %v, want %q", in, err, want)
		}
	}
}

func TestInitProblems(t *testing.T) {
	dir := t.TempDir()
	good := ExternalFile{SrcURL: "https://example.invalid/a", Dest: "contrib_src/model/a"}
	for _, tc := range []struct {
		name  string
		in    Init
		field string
		want  string
	}{
		{"empty docker_id", Init{DockerID: " "}, "docker_id", "is empty"},
		{"placeholder docker_id", Init{DockerID: "YOUR MODEL'S DOCKER ON DOCKERHUB (e.g. modelhub/main_caffe2:0.2.0)"}, "docker_id", "not filled in"},
		{"ftp url", Init{DockerID: "a/b", Files: []ExternalFile{{SrcURL: "ftp://x/a", Dest: "a"}}}, "external_contrib_files[0].src_url", "not an http(s) URL"},
		{"traversal", Init{DockerID: "a/b", Files: []ExternalFile{good, {SrcURL: good.SrcURL, Dest: "../../etc/passwd"}}}, "external_contrib_files[1].dest_file_path", "leaves the model folder"},
		{"empty dest", Init{DockerID: "a/b", Files: []ExternalFile{{SrcURL: good.SrcURL, Dest: ""}}}, "external_contrib_files[0].dest_file_path", "is empty"},
		{"placeholder file", Init{DockerID: "a/b", Files: []ExternalFile{{SrcURL: "e.g. link to model weights", Dest: "e.g. contrib_src/model/model.weights"}}}, "external_contrib_files[0]", "not filled in"},
		{"bad sha", Init{DockerID: "a/b", Files: []ExternalFile{{SrcURL: good.SrcURL, Dest: "a", SHA256: "xyz"}}}, "external_contrib_files[0].sha256", "64-digit"},
	} {
		probs := tc.in.Problems(dir)
		if len(probs) != 1 {
			t.Errorf("%s: %d problems %v, want 1", tc.name, len(probs), probs)
			continue
		}
		var ie *InitError
		if !errors.As(probs[0], &ie) || ie.Field != tc.field || !strings.Contains(probs[0].Error(), tc.want) {
			t.Errorf("%s: %v, want field %s and %q", tc.name, probs[0], tc.field, tc.want)
		}
	}
	tpl := Init{DockerID: "YOUR MODEL'S DOCKER", Files: []ExternalFile{{SrcURL: "IF YOU DON'T NEED EXTERNAL FILES, DEFINE external_contrib_files AS AN EMPTY ARRAY", Dest: "..."}}}
	if err := tpl.Check(dir); !errors.Is(err, ErrPlaceholder) {
		t.Errorf("template: %v, want ErrPlaceholder", err)
	}
}

func TestSafeDest(t *testing.T) {
	dir := t.TempDir()
	for dest, want := range map[string]string{
		"/contrib_src/model/x":      "contrib_src/model/x",
		"contrib_src/model/x":       "contrib_src/model/x",
		"./contrib_src//model/./x":  "contrib_src/model/x",
		`contrib_src\model\x`:       "contrib_src/model/x",
		"/contrib_src/model/w.bin ": "contrib_src/model/w.bin",
	} {
		got, err := SafeDest(dir, dest)
		if err != nil || got != filepath.Join(dir, filepath.FromSlash(want)) {
			t.Errorf("SafeDest(%q) = %q, %v; want %s", dest, got, err, want)
		}
	}
	for _, dest := range []string{"", "/", ".", "../x", "a/../../x", "/../etc/passwd", `..\x`, "C:/Windows/x", "a/\x00",
		// Windows: trailing dots and spaces, device names, streams, UNC and device paths
		".git./config", ".modelhub./manifest.json", "contrib_src/w.bin.", "contrib_src /w.bin",
		"contrib_src/CON", "contrib_src/nul.txt", "contrib_src/Com1.bin", "LPT9", "contrib_src/w.bin:stream",
		`\\?\C:\x`, `\\server\share\x`, "//server/share/x", `\\.\pipe\x`, "c:x", "a/b<c", "a/b|c", "a/b?", "a/b*", `a/"b"`, "a/\x1fb"} {
		if got, err := SafeDest(dir, dest); err == nil {
			t.Errorf("SafeDest(%q) = %q, want an error", dest, got)
		}
	}
}

// symlink makes a relative symbolic link at dir/link pointing to target.
func symlink(t *testing.T, dir, link, target string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(link))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need privileges on Windows")
		}
		t.Fatal(err)
	}
}

// Every link a repository may carry on a path modelhub writes is refused,
// naming the dest and the link, whether it points outside or inside.
func TestSafeDestSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name, link, target, dest string
	}{
		{"parent outside", "contrib_src/model", "../../outside", "contrib_src/model/w.bin"},
		{"parent inside", "inside", "real", "inside/w.bin"},
		{"dest itself", "real/file", "../../outside/f", "real/file"},
		{".part outside", "contrib_src/model/w.bin.part", "../../../outside/f", "contrib_src/model/w.bin"},
		{"sidecar outside", "contrib_src/model/w.bin.part.json", "../../../outside/f", "contrib_src/model/w.bin"},
		{".part inside", "contrib_src/model/w.bin.part", "../run.py", "contrib_src/model/w.bin"},
		{"into .git", "contrib_src/g", "../.git", "contrib_src/g/config"},
		{"into .modelhub", "contrib_src/m", "../.modelhub", "contrib_src/m/manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "real"), 0o755)
			os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
			symlink(t, dir, tc.link, tc.target)
			_, err := SafeDest(dir, tc.dest)
			var le *safepath.LinkError
			if !errors.Is(err, ErrUnsafePath) || !errors.As(err, &le) {
				t.Fatalf("SafeDest(%q) = %v, want a LinkError", tc.dest, err)
			}
			for _, want := range []string{tc.dest, tc.link + " is a symbolic link (to " + filepath.FromSlash(tc.target) + ")"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
	// a parent that is a file, not a folder
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	if _, err := SafeDest(dir, "f/w.bin"); err == nil || !strings.Contains(err.Error(), "f is a file, not a folder") {
		t.Errorf("parent is a file: %v", err)
	}
}

func TestIsPlaceholder(t *testing.T) {
	for s, want := range map[string]bool{
		"YOUR MODEL'S DOCKER ON DOCKERHUB (e.g. modelhub/main_caffe2:0.2.0)": true,
		"e.g. link to model weights":                                         true,
		"...":                                                                true,
		"modelhub/mxnet-modelhub:1.0.0":                                      false,
		"https://example.org/your-model":                                     false,
	} {
		if IsPlaceholder(s) != want {
			t.Errorf("IsPlaceholder(%q) != %v", s, want)
		}
	}
}

// Destinations inside the model folder that would still break it: an existing
// folder, the clone's .git, modelhub's .modelhub, or a file written twice.
// validate reports them like pull (they used to pass validate; pull failed on
// a folder only after downloading it, with "rename ...: file exists").
func TestInitProblemsDestClash(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contrib_src", "model"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dests, want := range map[string]string{
		`"contrib_src"`:             `"contrib_src" is a folder of the model, not a file`,
		`"/contrib_src/model/"`:     `"/contrib_src/model/" is a folder of the model, not a file`,
		`".modelhub/manifest.json"`: `writes into .modelhub, which belongs to git/modelhub`,
		`".GIT/config"`:             `writes into .GIT, which belongs to git/modelhub`,
		`"contrib_src/model/w.bin", "/contrib_src/MODEL/W.bin"`: `external_contrib_files[1].dest_file_path: "/contrib_src/MODEL/W.bin" is also written by external_contrib_files[0]`,
		`".git./config"`:             `".git./config": ".git." ends with a dot or a space, which Windows drops`,
		`".modelhub./manifest.json"`: `".modelhub." ends with a dot or a space`,
		`"contrib_src/model/w.bin", "contrib_src/model/w.bin."`: `external_contrib_files[1].dest_file_path: "contrib_src/model/w.bin.": "w.bin." ends with a dot or a space`,
		// NFC and NFD spellings of "é" are one file on macOS
		`"contrib_src/caf\u00e9", "contrib_src/cafe\u0301"`: "external_contrib_files[1].dest_file_path: \"contrib_src/cafe\u0301\" is also written by external_contrib_files[0]",
		// a file another one's download writes beside it
		`"contrib_src/model/w.bin", "contrib_src/model/w.bin.part"`:      `"contrib_src/model/w.bin.part" is also written by external_contrib_files[0]`,
		`"contrib_src/model/w.bin.part.json", "contrib_src/model/w.bin"`: `"contrib_src/model/w.bin" is also written by external_contrib_files[0]`,
		`"contrib_src/aux.bin"`:   `"aux.bin" is a Windows device name`,
		`"contrib_src/w.bin:ads"`: `"w.bin:ads" contains one of <>:"|?*`,
		`"\\\\?\\C:\\x"`:          `is a UNC or device path`,
	} {
		var files []string
		for _, d := range strings.Split(dests, ", ") {
			files = append(files, `{"src_url": "https://example.org/w", "dest_file_path": `+d+`}`)
		}
		in, err := ParseInit([]byte(`{"docker_id": "a/b:1", "external_contrib_files": [` + strings.Join(files, ",") + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		err = in.Check(dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", dests, err, want)
		}
	}
	in, _ := ParseInit([]byte(`{"docker_id": "a/b:1", "external_contrib_files": [
		{"src_url": "https://example.org/a", "dest_file_path": "contrib_src/model/a"},
		{"src_url": "https://example.org/a", "dest_file_path": "contrib_src/model/b"}]}`))
	if err := in.Check(dir); err != nil {
		t.Errorf("two files, two paths: %v", err)
	}
}

// Several problems make one line (the CLI prints `modelhub: ...` once; with
// errors.Join the second problem was a bare line of its own), and each is
// still found with errors.Is.
func TestInitCheckOneLine(t *testing.T) {
	in, err := ParseInit([]byte(`{"docker_id": "YOUR MODEL'S DOCKER IMAGE", "external_contrib_files": [
		{"src_url": "https://example.org/a", "dest_file_path": "../a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	err = in.Check(t.TempDir())
	want := `init/init.json: docker_id: init.json is not filled in: "YOUR MODEL'S DOCKER IMAGE" is the template's placeholder, name the model's Docker image; external_contrib_files[0].dest_file_path: "../a": path leaves the model folder`
	if err == nil || err.Error() != want {
		t.Errorf("Check = %q\nwant    %q", err, want)
	}
	if !errors.Is(err, ErrPlaceholder) || !errors.Is(err, ErrUnsafePath) {
		t.Errorf("errors.Is lost a problem: %v", err)
	}
}

// A 30,000-entry init.json (issue 21, "what held") parses and is checked
// entry by entry, without blowing up: distinct files pass, and the one entry
// writing a file again is reported against the first. (Each entry's check
// opens the model folder: about 3 s here, 20 s under -race on a loaded machine.)
func TestInitProblems_30kEntries(t *testing.T) {
	const n = 30000
	var b strings.Builder
	b.WriteString(`{"docker_id": "modelhub/x:1", "external_contrib_files": [`)
	for i := range n {
		fmt.Fprintf(&b, `{"src_url": "https://example.invalid/%d", "dest_file_path": "contrib_src/model/w%d.bin"},`, i, i)
	}
	b.WriteString(`{"src_url": "https://example.invalid/again", "dest_file_path": "contrib_src/model/w7.bin"}]}`)
	in, err := ParseInit([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Files) != n+1 {
		t.Fatalf("parsed %d entries, want %d", len(in.Files), n+1)
	}
	probs := in.Problems(t.TempDir())
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), fmt.Sprintf("external_contrib_files[%d].dest_file_path", n)) || !strings.Contains(probs[0].Error(), "is also written by external_contrib_files[7]") {
		t.Fatalf("%d entries, the last writing w7.bin again: %d problems %v, want one naming entries %d and 7", n+1, len(probs), probs, n)
	}
}
