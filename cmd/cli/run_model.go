package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// runModel is what run needs of a downloaded model.
type runModel struct {
	Name     string // the model's canonical name
	Dir      string // the model folder
	DockerID string // init.json's docker_id
	GPU      bool   // the index entry (recorded at pull time) says "gpu": true
}

// resolveModel finds MODEL: a downloaded model from its manifest (no index,
// no network), else its index entry. Nothing is downloaded yet, so run can
// check Docker and the GPU first.
func resolveModel(ctx context.Context, opts *RunOptions) (*store.Store, *store.Model, error) {
	f := opts.Factory
	paths, err := f.Paths()
	if err != nil {
		return nil, nil, err
	}
	st := &store.Store{Home: paths.Home, Index: f.Index}
	m, err := st.Resolve(ctx, opts.Model)
	if err != nil {
		return nil, nil, err
	}
	return st, m, nil
}

// needsGPU is the model's "gpu" flag: from the manifest of a downloaded model
// (recorded at pull time), else from the index entry.
func needsGPU(m *store.Model) bool {
	if m.Manifest != nil {
		return m.Manifest.Entry.GPU
	}
	return m.Entry != nil && m.Entry.GPU
}

// acquireModel makes the resolved model complete on disk through the store's
// pull (cloning and downloading only what is missing; updating with --update),
// drawing the same progress as `modelhub pull`, and describes it.
func acquireModel(ctx context.Context, opts *RunOptions, st *store.Store, m *store.Model) (*runModel, error) {
	if !m.Complete() || opts.Update {
		opts.IO.Notef("pulling %s…", m.Name)
		pp := newPullProgress(opts.IO)
		res, err := st.Pull(ctx, m, pp.options(store.PullOptions{Update: opts.Update}))
		pp.close()
		if err != nil {
			return nil, err
		}
		m = res.Model
	}
	if m.Local {
		warnMissingLocalFiles(opts.IO, m.Dir)
	}
	rm := &runModel{Name: m.Name, Dir: m.Dir, GPU: needsGPU(m)}
	if m.Manifest != nil {
		rm.DockerID = m.Manifest.DockerID
	}
	if rm.DockerID == "" {
		in, err := config.LoadInit(m.Dir)
		if err != nil {
			return nil, err
		}
		rm.DockerID = in.DockerID
	}
	if rm.DockerID == "" {
		return nil, fmt.Errorf("%s: docker_id is empty; the model cannot run", filepath.Join(m.Dir, filepath.FromSlash(config.InitPath)))
	}
	return rm, nil
}
