package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// A pulled model whose contrib_src became a symbolic link out of its folder
// (what a hostile repository's `contrib_src -> ../../..` gives) is never
// mounted on the real engine: run -d refuses it in one line naming the link
// and its target, and no container is created, though the link points at a
// working copy of the model.
func TestRealEngine_LinkedContribSrcRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	e := newEnv(t)
	e.must("pull", e.Model)
	outside := filepath.Join(t.TempDir(), "outside")
	contrib := filepath.Join(e.ModelDir(), "contrib_src")
	if err := os.Rename(contrib, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, contrib); err != nil {
		t.Fatal(err)
	}
	r := e.run("run", "-d", e.Model)
	want := regexp.MustCompile(`(?m)^modelhub: model ` + regexp.QuoteMeta(e.Model) + `: "contrib_src" is a symbolic link to "` + regexp.QuoteMeta(outside) + `": the container mounts contrib_src`)
	if r.Code != 1 || !want.MatchString(r.Stderr) {
		t.Fatalf("run -d of a linked contrib_src: want exit 1 and a refusal naming the link:\n%s", r)
	}
	if cs := e.Containers(); len(cs) != 0 {
		t.Fatalf("%d container(s) of the model exist: %+v", len(cs), cs)
	}
}
