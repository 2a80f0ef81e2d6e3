package dockerrun_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// failAfter reads r and fails after n bytes, like a bundle found damaged.
type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("damaged")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestImageSaveLoad(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	ref := testutil.UniqueDemoImage(t, c)
	before, err := c.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if d := before.RepoDigests; len(d) != 0 {
		t.Errorf("digests of a built image: %v", d)
	}
	rc, err := c.ImageSave(ctx, []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	export, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(export) < 1024 {
		t.Fatalf("export: %d bytes, %v", len(export), err)
	}
	if err := c.ImageRemove(ctx, ref); err != nil {
		t.Fatal(err)
	}

	// a stream that breaks before its end loads nothing
	if _, err := c.ImageLoad(ctx, &failAfter{r: bytes.NewReader(export), n: len(export) - 100}); err == nil {
		t.Error("a broken stream loaded without error")
	}
	if _, err := c.ImageInspect(ctx, ref); !errors.Is(err, dockerrun.ErrImageNotFound) {
		t.Fatalf("after a broken load: %v", err)
	}

	loaded, err := c.ImageLoad(ctx, bytes.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0] != ref {
		t.Errorf("loaded %v, want [%s]", loaded, ref)
	}
	after, err := c.ImageInspect(ctx, ref)
	if err != nil || after.ID != before.ID {
		t.Errorf("after load: %+v %v, want ID %s", after, err, before.ID)
	}

	if _, err := c.ImageSave(ctx, []string{ref + "-missing"}); !errors.Is(err, dockerrun.ErrImageNotFound) {
		t.Errorf("save of a missing image: %v", err)
	}
}
