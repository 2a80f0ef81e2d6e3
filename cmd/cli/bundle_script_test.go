package cli

import (
	"context"
	"errors"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The bundle scripts (save/load) add:
//
//	unique-image     build a demo image no other image shares a layer tip with,
//	                 set $IMAGE to it (after docker-setup, before demo-model or
//	                 serve-demo-model), and remove it when the script ends
//	image-rm REF     remove the local image REF
//	[!] image REF    the local image REF exists

func init() {
	scriptCmds["unique-image"] = cmdUniqueImage
	scriptCmds["image-rm"] = cmdImageRm
	scriptCmds["image"] = cmdImage
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
