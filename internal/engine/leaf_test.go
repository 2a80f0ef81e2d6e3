package engine

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/modelhub-ai/modelhub/internal/"

// imports are the modelhub packages the non-test files of internal/dir import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in internal/%s (%v)", dir, err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}

// The leaf packages import nothing of modelhub, and webui and kube (which
// must stay usable on their own) import only leaves: the package map of the
// README.
func TestLeafPackages(t *testing.T) {
	leaves := []string{"engine", "filetype", "dockerrun", "termsafe", "safepath", "jsonpos", "humanize", "ctxio"}
	for _, p := range leaves {
		if got := imports(t, p); len(got) > 0 {
			t.Errorf("internal/%s is a leaf but imports %v", p, got)
		}
	}
	for _, p := range []string{"webui", "kube"} {
		for _, im := range imports(t, p) {
			if !slices.Contains(leaves, im) {
				t.Errorf("internal/%s imports internal/%s, which is not a leaf", p, im)
			}
		}
	}
}
