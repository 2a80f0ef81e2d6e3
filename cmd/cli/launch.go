package cli

import (
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// launchEvents draws launch's progress on ios: notes and warnings, the
// model's pull as `modelhub pull` draws it, and the image pull as one bar for
// the whole image on a terminal (a line per finished layer otherwise).
func launchEvents(ios *IOStreams) launch.Events {
	return launch.Events{
		Note: func(msg string) { ios.Notef("%s", msg) },
		Warn: func(msg string) { ios.Warnf("%s", msg) },
		ModelPull: func(name string) (store.PullOptions, func()) {
			ios.Notef("pulling %s…", name)
			pp := newPullProgress(ios)
			return pp.options(store.PullOptions{}), pp.close
		},
		ImagePull: func(ref string) (func(dockerrun.PullProgress), func(dockerrun.PullProgress, error)) {
			ios.Notef("pulling image %s…", ref)
			var bar *progressbar.ProgressBar // made once the first layer size is known
			lastDone := 0
			progress := func(p dockerrun.PullProgress) {
				if ios.Progress() {
					if p.Total <= 0 {
						return
					}
					if bar == nil {
						bar = progressbar.NewOptions64(p.Total,
							progressbar.OptionSetWriter(ios.ErrOut),
							progressbar.OptionSetDescription("pulling "+cell(ref)),
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
					ios.Notef("pulling image %s: %d/%d layers, %s", ref, p.LayersDone, p.Layers, humanize.Bytes(p.Current))
				}
			}
			done := func(last dockerrun.PullProgress, err error) {
				if bar != nil {
					_ = bar.Clear() // the summary line below replaces the bar
					_ = bar.Exit()
				}
				if err == nil {
					ios.Notef("pulled image %s (%d layers, %s)", ref, last.Layers, humanize.Bytes(last.Total))
				}
			}
			return progress, done
		},
	}
}
