package cli

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// pullProgress draws the progress of a pull on stderr: on a terminal one
// progressbar for the clone and then one aggregate bar for all downloads,
// with a one-line note as each file finishes; otherwise (or with --quiet) a
// few plain lines and never a carriage return.
type pullProgress struct {
	io  *IOStreams
	tty bool

	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	stage    string
	total    int64
	unknown  bool
	files    int
	started  int
	finished int
}

func newPullProgress(ios *IOStreams) *pullProgress {
	return &pullProgress{io: ios, tty: ios.Progress()}
}

// options returns store callbacks that draw on p.
func (p *pullProgress) options(o store.PullOptions) store.PullOptions {
	o.Note = p.note
	o.Clone = p.clone
	o.Files = p.filesStart
	o.Download = p.download
	return o
}

func (p *pullProgress) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line("%s", msg)
}

// line prints a line above the bar (the bar redraws on its next update).
func (p *pullProgress) line(format string, args ...any) {
	if p.io.Quiet {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fprintf(p.io.ErrOut, format+"\n", args...)
	if p.bar != nil {
		_ = p.bar.RenderBlank()
	}
}

func (p *pullProgress) newBar(max int64, desc string, bytes bool) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.io.ErrOut),
		progressbar.OptionSetDescription(cell(desc)),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseIECUnits(true),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionShowCount())
	} else {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(false))
	}
	return progressbar.NewOptions64(max, opts...)
}

func (p *pullProgress) clone(c fetch.CloneProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.io.Quiet {
		return
	}
	if !p.tty {
		// Plain output: one line per finished stage.
		if c.Done {
			fprintf(p.io.ErrOut, "  %s\n", c.Line)
		}
		return
	}
	if c.Total < 0 {
		return
	}
	if p.bar == nil || c.Stage != p.stage {
		p.finishBar()
		p.stage = c.Stage
		p.bar = p.newBar(int64(c.Total), c.Stage, false)
	}
	_ = p.bar.Set(c.Current)
	if c.Done {
		p.finishBar()
	}
}

func (p *pullProgress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
}

func (p *pullProgress) filesStart(files []fetch.File) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
	p.files = len(files)
	if p.io.Quiet {
		return
	}
	if !p.tty {
		fprintf(p.io.ErrOut, "downloading %d file(s)\n", len(files))
		return
	}
	p.bar = p.newBar(-1, fmt.Sprintf("downloading %d file(s)", len(files)), true)
}

func (p *pullProgress) download(e fetch.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.io.Quiet {
		return
	}
	name := filepath.Base(e.File.Dest)
	switch e.Kind {
	case fetch.FileStart:
		p.started++
		if e.Size < 0 {
			p.unknown = true
		} else {
			p.total += e.Size
		}
		if !p.tty {
			if e.Offset > 0 {
				fprintf(p.io.ErrOut, "  %s: resuming at %s of %s\n", name, humanize.Bytes(e.Offset), humanize.Bytes(e.Size))
			} else {
				fprintf(p.io.ErrOut, "  %s: %s from %s\n", name, humanize.Bytes(e.Size), e.File.URL)
			}
			return
		}
		// The bar's total is known once every file has started.
		if p.started == p.files && !p.unknown {
			p.bar.ChangeMax64(p.total)
		}
		if e.Offset > 0 {
			_ = p.bar.Add64(e.Offset)
		}
	case fetch.FileBytes:
		if p.bar != nil {
			_ = p.bar.Add64(e.Bytes)
		}
	case fetch.FileRetry:
		p.line("  %s: %v; retrying in %s", name, e.Err, e.Delay.Round(time.Millisecond))
	case fetch.FileDone:
		p.finished++
		p.line("  ✓ %s (%s) [%d/%d]", name, humanize.Bytes(e.Size), p.finished, p.files)
		if p.finished == p.files {
			p.finishBar()
		}
	}
}

// close removes a bar left by an interrupted pull.
func (p *pullProgress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
}
