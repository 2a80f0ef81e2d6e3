package launch

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// ensureImage makes the model's image present: pulled when missing or for
// another platform than opts.Platform, pulled again with opts.UpdateImage. It
// notes when the image will run emulated on this engine.
func ensureImage(ctx context.Context, d dockerrun.API, ref string, opts Options, info dockerrun.EngineInfo, ev Events) error {
	img, err := d.ImageInspect(ctx, ref)
	present := err == nil
	if err != nil && !errors.Is(err, dockerrun.ErrImageNotFound) {
		return err
	}
	switch {
	case present && opts.UpdateImage:
		if err := updateImage(ctx, d, ref, img, opts.Platform, ev); err != nil {
			return err
		}
		present = false // inspect the new one
	case present && opts.Platform != "" && !samePlatform(img.Platform(), opts.Platform):
		// the local image is for another platform
		if err := pullImage(ctx, d, ref, opts.Platform, ev); err != nil {
			return err
		}
		present = false
	case !present:
		if err := pullImage(ctx, d, ref, opts.Platform, ev); err != nil {
			return err
		}
	}
	if !present {
		if img, err = d.ImageInspect(ctx, ref); err != nil {
			return err
		}
	}
	if want := info.Arch; opts.Platform == "" && want != "" && img.Arch != "" && img.Arch != want {
		ev.note("the image %s is built for %s and this engine is %s: it will run emulated, more slowly", ref, img.Platform(), info.Platform())
	}
	return nil
}

// updateImage pulls ref again while keeping the old image under a backup tag
// until the new one is in place: a failed pull puts the old one back, a
// successful one drops it. An image some container uses is refused, as
// removing it would be.
func updateImage(ctx context.Context, d dockerrun.API, ref string, old dockerrun.Image, platform string, ev Events) error {
	inUse := fmt.Errorf("--update-image: the image %s is used by a container; stop it first (`modelhub ps`, `modelhub stop --all`) and try again", ref)
	cs, err := d.List(ctx, true)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Image == ref || (old.ID != "" && c.Image == old.ID) {
			return inUse
		}
	}
	backup := "modelhub-update-image-backup:" + randomHex(6)
	if err := d.ImageTag(ctx, ref, backup); err != nil {
		return fmt.Errorf("--update-image: keep the old image: %w", err)
	}
	dropBackup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWait)
		defer cancel()
		_ = d.ImageRemove(cctx, backup)
	}
	if err := d.ImageRemove(ctx, ref); err != nil {
		dropBackup()
		if errors.Is(err, dockerrun.ErrImageInUse) {
			return inUse
		}
		return fmt.Errorf("--update-image: %w", err)
	}
	ev.note("removed the local image %s (a copy stays until the new one is in place)", ref)
	if err := pullImage(ctx, d, ref, platform, ev); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWait)
		defer cancel()
		if terr := d.ImageTag(cctx, backup, ref); terr != nil {
			return fmt.Errorf("%w; restoring the old image failed too: %v (it is tagged %s)", err, terr, backup)
		}
		_ = d.ImageRemove(cctx, backup)
		ev.note("kept the old image %s", ref)
		return err
	}
	dropBackup()
	return nil
}

func samePlatform(a, b string) bool {
	pa, err1 := dockerrun.ParsePlatform(a)
	pb, err2 := dockerrun.ParsePlatform(b)
	return err1 == nil && err2 == nil && pa != nil && pb != nil && pa.OS == pb.OS && dockerrun.NormalizeArch(pa.Architecture) == dockerrun.NormalizeArch(pb.Architecture)
}

// pullImage pulls ref, reporting progress through ev.ImagePull.
func pullImage(ctx context.Context, d dockerrun.API, ref, platform string, ev Events) error {
	progress := func(dockerrun.PullProgress) {}
	done := func(dockerrun.PullProgress, error) {}
	if ev.ImagePull != nil {
		progress, done = ev.ImagePull(ref)
	}
	var last dockerrun.PullProgress
	err := d.ImagePull(ctx, ref, dockerrun.PullOptions{Platform: platform, Progress: func(p dockerrun.PullProgress) {
		last = p
		progress(p)
	}})
	done(last, err)
	return err
}
