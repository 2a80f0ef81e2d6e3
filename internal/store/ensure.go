package store

import (
	"context"
	"fmt"
)

// EnsureOptions say how Ensure makes a model complete.
type EnsureOptions struct {
	// PullOptions are passed to the pull (Update, Commit, Jobs, Locked, progress).
	PullOptions
	// Repair fetches again the files of a downloaded model whose size
	// changed on disk (run, test and predict start a model that must work).
	Repair bool
	// Always pulls even a complete model (`modelhub pull`, which checks
	// every file and says it is up to date).
	Always bool
	// Pulling, when set, is called before a pull; its progress callbacks
	// are used (the fields above win for Update, Commit, Jobs and Locked)
	// and done is called when the pull ends.
	Pulling func() (progress PullOptions, done func())
}

// Ensure is the one "make the model complete on disk" step (pull, run,
// test, predict): a model that is not complete is cloned and downloaded,
// Update or Commit move it, Repair fetches changed files again; a local
// folder is only checked. Then the folder is refused when it holds a link
// that could reach the host (CheckFolder). It returns the model as it now is
// on disk and what the pull did (nil when nothing was pulled).
func (s *Store) Ensure(ctx context.Context, m *Model, o EnsureOptions) (*Model, *PullResult, error) {
	changed := 0
	if o.Repair && m.Complete() && !m.Local && m.Manifest != nil {
		changed = len(m.Manifest.Changed(m.Dir))
	}
	var res *PullResult
	if o.Always || !m.Complete() || o.Update || o.Commit != "" || changed > 0 {
		if s == nil {
			return nil, nil, fmt.Errorf("no store to pull %s", m.Name)
		}
		po := o.PullOptions
		done := func() {}
		if o.Pulling != nil {
			var p PullOptions
			p, done = o.Pulling()
			p.Update, p.Commit, p.Jobs, p.Locked = po.Update, po.Commit, po.Jobs, po.Locked
			if p.HTTPClient == nil {
				p.HTTPClient = po.HTTPClient
			}
			if p.LockTimeout == 0 {
				p.LockTimeout = po.LockTimeout
			}
			po = p
		}
		var err error
		res, err = s.Pull(ctx, m, po)
		done()
		if err != nil {
			if changed > 0 && ctx.Err() == nil {
				return nil, nil, fmt.Errorf("%d file(s) of %s changed on disk and could not be fetched again: %w (`modelhub pull %s` retries)", changed, m.Name, err, m.Name)
			}
			return nil, nil, err
		}
		m = res.Model
	}
	if err := CheckFolder(m); err != nil {
		return nil, nil, err
	}
	return m, res, nil
}
