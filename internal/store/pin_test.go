package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The fixture's a.bin is pinned in init.json. Whatever path downloads it —
// first pull, resume, repair, update — a server copy that differs from the
// pin is refused and never recorded as complete.

func checkPinRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, fetch.ErrChecksum) {
		t.Fatalf("err %v, want a sha256 mismatch", err)
	}
}

// fileHash is the sha256 of the file at path, or "" when it cannot be read.
func fileHash(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return testutil.HashBytes(data)
}

func TestPin_firstPull(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.fs.Replace("/a.bin", testutil.NewPattern(300_000, 99))
	_, err := fx.pull(context.Background(), "demo", PullOptions{})
	checkPinRefused(t, err)
	if _, err := os.Stat(filepath.Join(fx.s.ModelsDir(), "Demo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("final folder: %v, want none", err)
	}
}

func TestPin_resume(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault testutil.Fault
	}{
		{"honest server", testutil.Fault{}},
		{"server ignoring If-Range", testutil.Fault{IgnoreIfRange: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			fx.fs.SetFault("/a.bin", testutil.Fault{RateLimit: 300_000})
			ctx, cancel := context.WithCancel(context.Background())
			var once sync.Once
			o := PullOptions{Jobs: 1, Download: func(e fetch.Event) {
				if e.Kind == fetch.FileBytes && strings.HasSuffix(e.File.URL, "/a.bin") {
					once.Do(func() { time.AfterFunc(300*time.Millisecond, cancel) })
				}
			}}
			if _, err := fx.pull(ctx, "demo", o); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted pull: %v, want context.Canceled", err)
			}
			part := fetch.PartPath(filepath.Join(fx.s.stagingDir("Demo"), "contrib_src", "model", "a.bin"))
			if fi, err := os.Stat(part); err != nil || fi.Size() == 0 {
				t.Fatalf("no partial a.bin to resume: %v", err)
			}
			fx.fs.Replace("/a.bin", testutil.NewPattern(300_000, 99))
			fx.fs.SetFault("/a.bin", tc.fault)
			_, err := fx.pull(context.Background(), "demo", PullOptions{})
			checkPinRefused(t, err)
			if rr := fx.fs.RangeRequests("/a.bin"); len(rr) == 0 {
				t.Errorf("the resumed pull sent no range request for a.bin: %+v", fx.fs.Requests("/a.bin"))
			}
			if _, err := os.Stat(filepath.Join(fx.s.ModelsDir(), "Demo")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("final folder: %v, want none", err)
			}
		})
	}
}

func TestPin_repair(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// oldManifest drops the Pinned marks, as a manifest written before
		// they existed: the pins then come from the folder's init.json.
		oldManifest bool
	}{{"manifest", false}, {"manifest without pins", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			ctx := context.Background()
			if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(fx.s.ModelsDir(), "Demo")
			man := fx.checkComplete(dir)
			if !man.Files[0].Pinned || man.Files[1].Pinned {
				t.Fatalf("manifest files %+v, want a.bin pinned and b.bin not", man.Files)
			}
			if tc.oldManifest {
				for i := range man.Files {
					man.Files[i].Pinned = false
				}
				if err := WriteManifest(dir, man); err != nil {
					t.Fatal(err)
				}
			}
			pin := testutil.SHA256(fx.data["/a.bin"])
			a := filepath.Join(dir, "contrib_src", "model", "a.bin")
			if err := os.Truncate(a, 1000); err != nil {
				t.Fatal(err)
			}
			fx.fs.Replace("/a.bin", testutil.NewPattern(300_000, 99))
			_, err := fx.pull(ctx, "demo", PullOptions{})
			checkPinRefused(t, err)
			if fi, err := os.Stat(a); err != nil || fi.Size() != 1000 {
				t.Errorf("a.bin after the refused repair: %v %v, want the damaged file left as it was", fi, err)
			}
			after, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if f := after.Files[0]; f.SHA256 != pin || f.Size != 300_000 {
				t.Errorf("manifest a.bin %+v, want the pin and size kept", f)
			}

			// Once the server serves the pinned bytes again, the repair succeeds.
			fx.fs.Replace("/a.bin", fx.data["/a.bin"])
			if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
				t.Fatal(err)
			}
			if h := fileHash(a); h != pin {
				t.Errorf("a.bin hash %s after the repair, want %s", h, pin)
			}
			if f := fx.checkComplete(dir).Files[0]; !f.Pinned {
				t.Errorf("a.bin %+v after the repair, want pinned", f)
			}
		})
	}
}

func TestPin_update(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.pull(ctx, "demo", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.fs.Add("/a2.bin", testutil.NewPattern(300_000, 98))
	fx.repo.WriteFiles(map[string]string{"init/init.json": initJSON("modelhub/demo:2",
		config.ExternalFile{SrcURL: fx.fs.URL + "/a2.bin", Dest: "/contrib_src/model/a.bin", SHA256: testutil.SHA256(testutil.NewPattern(300_000, 97))},
		config.ExternalFile{SrcURL: fx.fs.URL + "/b.bin", Dest: "contrib_src/model/b.bin"})})
	fx.repo.Commit("v2 with a wrong pin")
	_, err := fx.pull(ctx, "demo", PullOptions{Update: true})
	checkPinRefused(t, err)
	man := fx.checkComplete(filepath.Join(fx.s.ModelsDir(), "Demo"))
	if man.DockerID != "modelhub/demo" {
		t.Errorf("docker id %s, want the previous version kept", man.DockerID)
	}
}
