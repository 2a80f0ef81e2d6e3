package cli

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The bundle scripts (save/load) add:
//
//	unique-image     build a demo image no other image shares a layer tip with,
//	                 set $IMAGE to it (after docker-setup, before demo-model or
//	                 serve-demo-model), and remove it when the script ends
//	image-rm REF     remove the local image REF
//	[!] image REF    the local image REF exists
//	tamper FILE ENTRY   flip one byte in the middle of ENTRY's data in the bundle FILE
//	set-commit COMMIT   record COMMIT in the manifest of the downloaded $MODEL

func init() {
	scriptCmds["unique-image"] = cmdUniqueImage
	scriptCmds["image-rm"] = cmdImageRm
	scriptCmds["image"] = cmdImage
	scriptCmds["tamper"] = cmdTamper
	scriptCmds["set-commit"] = cmdSetCommit
}

func cmdUniqueImage(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ref, err := testutil.BuildUniqueDemoImage(ctx, c)
	ts.Check(err)
	ts.Defer(func() {
		removeModelContainers(c, ts.Getenv("MODEL"))
		testutil.RemoveImage(c, ref)
	})
	ts.Setenv("IMAGE", ref)
}

func cmdImageRm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: image-rm REF")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.Check(mustDocker(ts).ImageRemove(ctx, args[0]))
}

func cmdImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: image REF")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	im, err := mustDocker(ts).ImageInspect(ctx, args[0])
	switch {
	case errors.Is(err, dockerrun.ErrImageNotFound):
		if !neg {
			ts.Fatalf("image %s does not exist", args[0])
		}
	case err != nil:
		ts.Fatalf("inspect %s: %v", args[0], err)
	case neg:
		ts.Fatalf("image %s exists (%s)", args[0], im.ID)
	}
}

type offsetReader struct {
	r io.Reader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: tamper FILE ENTRY")
	}
	path := ts.MkAbs(args[0])
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	// tar.Reader reads no further than it must: after Next the offset is the data's.
	or := &offsetReader{r: f}
	tr := tar.NewReader(or)
	for {
		hdr, err := tr.Next()
		if err != nil {
			ts.Fatalf("tamper: %s not found in %s: %v", args[1], args[0], err)
		}
		if hdr.Name != args[1] {
			continue
		}
		at := or.n + hdr.Size/2
		b := make([]byte, 1)
		_, err = f.ReadAt(b, at)
		ts.Check(err)
		b[0] ^= 0xff
		_, err = f.WriteAt(b, at)
		ts.Check(err)
		return
	}
}

func cmdSetCommit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: set-commit COMMIT")
	}
	home := ts.Getenv("MODELHUB_HOME")
	if home == "" {
		home = filepath.Join(ts.Getenv("XDG_DATA_HOME"), "modelhub")
	}
	dir := store.Dir(home, ts.Getenv("MODEL"))
	m, err := store.ReadManifest(dir)
	ts.Check(err)
	m.Commit = args[0]
	ts.Check(store.WriteManifest(dir, m))
}
