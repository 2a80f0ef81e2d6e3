package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// ensureImage makes the model's image present: pulled when missing, removed
// and pulled again with --update-image. It notes when the image will run
// emulated on this engine.
func ensureImage(ctx context.Context, d dockerAPI, opts *RunOptions, ref string, info dockerrun.EngineInfo) error {
	ios := opts.IO
	img, err := d.ImageInspect(ctx, ref)
	present := err == nil
	if err != nil && !errors.Is(err, dockerrun.ErrImageNotFound) {
		return err
	}
	if present && opts.UpdateImage {
		if err := d.ImageRemove(ctx, ref); err != nil {
			if errors.Is(err, dockerrun.ErrImageInUse) {
				return fmt.Errorf("--update-image: the image %s is used by a container; stop it first (`modelhub ps`, `modelhub stop --all`) and try again", ref)
			}
			return fmt.Errorf("--update-image: %w", err)
		}
		ios.Notef("removed the local image %s", ref)
		present = false
	}
	if present && opts.Platform != "" && !samePlatform(img.Platform(), opts.Platform) {
		present = false // the local image is for another platform
	}
	if !present {
		if err := pullImage(ctx, d, ios, ref, opts.Platform); err != nil {
			return err
		}
		if img, err = d.ImageInspect(ctx, ref); err != nil {
			return err
		}
	}
	if want := info.Arch; opts.Platform == "" && want != "" && img.Arch != "" && img.Arch != want {
		ios.Notef("the image %s is built for %s and this engine is %s: it will run emulated, more slowly", ref, img.Platform(), info.Platform())
	}
	return nil
}

func samePlatform(a, b string) bool {
	pa, err1 := dockerrun.ParsePlatform(a)
	pb, err2 := dockerrun.ParsePlatform(b)
	return err1 == nil && err2 == nil && pa != nil && pb != nil && pa.OS == pb.OS && dockerrun.NormalizeArch(pa.Architecture) == dockerrun.NormalizeArch(pb.Architecture)
}

// pullImage pulls ref: one bar for the whole image (the sum of its layers)
// on a terminal, a line per finished layer otherwise.
func pullImage(ctx context.Context, d dockerAPI, ios *IOStreams, ref, platform string) error {
	ios.Notef("pulling image %s…", ref)
	var bar *progressbar.ProgressBar // made once the first layer size is known
	var last dockerrun.PullProgress
	lastDone := 0
	err := d.ImagePull(ctx, ref, dockerrun.PullOptions{Platform: platform, Progress: func(p dockerrun.PullProgress) {
		last = p
		if ios.Progress() {
			if p.Total <= 0 {
				return
			}
			if bar == nil {
				bar = progressbar.NewOptions64(p.Total,
					progressbar.OptionSetWriter(ios.ErrOut),
					progressbar.OptionSetDescription("pulling "+ref),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowTotalBytes(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionSetWidth(30),
				)
			}
			bar.ChangeMax64(p.Total)
			_ = bar.Set64(p.Current)
			return
		}
		if p.Layers > 0 && p.LayersDone != lastDone {
			lastDone = p.LayersDone
			ios.Notef("pulling image %s: %d/%d layers, %s", ref, p.LayersDone, p.Layers, humanBytes(p.Current))
		}
	}})
	if bar != nil {
		_ = bar.Clear() // the summary line below replaces the bar
		_ = bar.Exit()
	}
	if err != nil {
		return err
	}
	ios.Notef("pulled image %s (%d layers, %s)", ref, last.Layers, humanBytes(last.Total))
	return nil
}
