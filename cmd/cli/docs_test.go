package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/commands from the commands' --help")

// docs/commands holds every command's --help: a changed flag or text without
// `make docs` fails here, so the pages cannot drift from the binary.
func Test_commandDocs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIP: the pages show Linux defaults (the home folder); checked on Linux")
	}
	dir := filepath.Join("..", "..", "docs", "commands")
	pages := CommandDocs()
	if *updateDocs {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range pages {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	var names []string
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Errorf("docs/commands/%s: %v (run `make docs`)", n, err)
			continue
		}
		if !bytes.Equal(got, pages[n]) {
			t.Errorf("docs/commands/%s differs from the command's --help: run `make docs`", n)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, ok := pages[e.Name()]; !ok {
			t.Errorf("docs/commands/%s documents no command any more: run `make docs`", e.Name())
		}
	}
	if len(pages) < 15 {
		t.Fatalf("only %d pages", len(pages))
	}
}
