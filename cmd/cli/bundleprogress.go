package cli

import (
	"github.com/modelhub-ai/modelhub/internal/bundle"
)

// bundleProgress draws a save or a load on stderr: on a terminal one byte
// bar per phase (writing, compressing, reading); otherwise nothing (the
// commands print a line when they start and finish), and nothing with --quiet.
type bundleProgress struct {
	p     *pullProgress
	phase string
}

func newBundleProgress(ios *IOStreams) *bundleProgress {
	return &bundleProgress{p: newPullProgress(ios)}
}

func (b *bundleProgress) update(e bundle.Progress) {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty || p.io.Quiet {
		return
	}
	if p.bar == nil || e.Phase != b.phase {
		p.finishBar()
		b.phase = e.Phase
		p.bar = p.newBar(e.Total, e.Phase, true)
	}
	if e.Done > p.bar.GetMax64() {
		p.bar.ChangeMax64(e.Done)
	}
	_ = p.bar.Set64(e.Done)
}

// note prints msg above the bar.
func (b *bundleProgress) note(msg string) { b.p.note(msg) }

func (b *bundleProgress) close() { b.p.close() }
