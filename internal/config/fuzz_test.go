package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func singleLine(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("%s: the error spans lines: %q", what, err)
	}
}

// ParseInit and Problems never panic, report each problem on one line, and
// every dest they accept lies inside the model folder.
func FuzzParseInit(f *testing.F) {
	f.Add([]byte(`{"docker_id": "modelhub/mxnet:1.0", "external_contrib_files": [{"src_url": "https://example.org/w", "dest_file_path": "/contrib_src/model/w.bin", "sha256": "` + strings.Repeat("ab", 32) + `"}]}`))
	f.Add([]byte(`{"docker_id": "YOUR MODEL'S DOCKER", "external_contrib_files": [{"src_url": "e.g. link", "dest_file_path": "../x"}]}`))
	f.Add([]byte(`{"docker_id": "a", "external_contrib_files": [{"src_url": "http://h/a", "dest_file_path": ".git./config"}, {"src_url": "http://h/a", "dest_file_path": "W.BIN"}, {"src_url": "http://h/a", "dest_file_path": "w.bin"}]}`))
	f.Add([]byte(`{"docker_id": 1}`))
	f.Add([]byte(`{"external_contrib_files": [,]}`))
	f.Add([]byte(``))
	if seeds, _ := filepath.Glob("../../../shared/modelhub-data/models/*/init.json"); len(seeds) > 0 {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contrib_src", "model"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInit(data)
		if err != nil {
			singleLine(t, "ParseInit", err)
			return
		}
		probs := in.Problems(dir)
		for _, p := range probs {
			singleLine(t, "Problems", p)
			var ie *InitError
			if !errors.As(p, &ie) {
				t.Fatalf("problem %v is not an *InitError", p)
			}
		}
		if len(probs) == 0 {
			for _, ef := range in.Files {
				checkInside(t, dir, ef.Dest)
			}
		}
	})
}

// checkInside: a dest SafeDest accepts is a file path inside dir, not dir itself.
func checkInside(t *testing.T, dir, dest string) {
	t.Helper()
	full, err := SafeDest(dir, dest)
	if err != nil {
		singleLine(t, "SafeDest", err)
		return
	}
	rel, err := filepath.Rel(dir, full)
	if err != nil || !filepath.IsLocal(rel) || rel == "." {
		t.Fatalf("SafeDest(%q) = %q, outside %s", dest, full, dir)
	}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if seg == ".." || strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ") || strings.ContainsAny(seg, `<>:"|?*\`) {
			t.Fatalf("SafeDest(%q) = %q: segment %q is not safe on every platform", dest, full, seg)
		}
	}
}

// SafeDest only accepts paths inside the model folder that every platform
// can name.
func FuzzSafeDest(f *testing.F) {
	for _, s := range []string{"/contrib_src/model/w.bin", "contrib_src/model", "../x", `..\x`, "a/../../x", ".git./config", "contrib_src/CON", "w.bin:s", `\\?\C:\x`, "C:/x", " /a/b ", "a/\x00"} {
		f.Add(s)
	}
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contrib_src", "model"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dest string) { checkInside(t, dir, dest) })
}

// ParseModelConfig and the schema check never panic and report on one line.
func FuzzParseModelConfig(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/configs/*.json")
	shared, _ := filepath.Glob("../../../shared/modelhub-data/models/*/config.json")
	for _, s := range append(seeds, shared...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id": 1, "meta": {"name": ["x"]}, "model": {"io": {"output": [null, 1, {"type": {}}]}}}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	schema := DefaultSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseModelConfig(data)
		if err != nil {
			singleLine(t, "ParseModelConfig", err)
			return
		}
		for _, v := range schema.Validate(cfg.Doc) {
			if v.Pointer != "" && !strings.HasPrefix(v.Pointer, "/") {
				t.Fatalf("violation %v: pointer %q is not a JSON pointer", v, v.Pointer)
			}
		}
	})
}
