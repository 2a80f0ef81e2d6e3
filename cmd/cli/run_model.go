package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// runModel is what run needs of a downloaded model.
type runModel struct {
	Name     string // the model's name as recorded at pull time
	Dir      string // the model folder
	DockerID string // init.json's docker_id
	GPU      bool   // the index entry recorded at pull time says "gpu": true
}

// acquireModel makes MODEL present locally (pulling it, or updating it with
// --update) and describes it.
//
// TODO(fetch): until the pull orchestration lands on main this only finds an
// already downloaded model; it becomes a call to the fetch helper's
// ensureModel.
func acquireModel(ctx context.Context, opts *RunOptions) (*runModel, error) {
	f := opts.Factory
	paths, err := f.Paths()
	if err != nil {
		return nil, err
	}
	name := opts.Model
	for _, n := range store.Installed(paths.Home) {
		if strings.EqualFold(n, name) {
			name = n
		}
	}
	dir := store.Dir(paths.Home, name)
	if !store.IsComplete(dir) {
		return nil, fmt.Errorf("model %s is not downloaded: run `modelhub pull %s` first", opts.Model, opts.Model)
	}
	return localModel(dir, name)
}

// localModel reads a complete model folder.
func localModel(dir, name string) (*runModel, error) {
	in, err := config.LoadInit(dir)
	if err != nil {
		return nil, err
	}
	if in.DockerID == "" {
		return nil, fmt.Errorf("%s: docker_id is empty; the model cannot run", filepath.Join(dir, filepath.FromSlash(config.InitPath)))
	}
	m := &runModel{Name: name, Dir: dir, DockerID: in.DockerID}
	// The index entry recorded at pull time: {"entry": {"gpu": true}} or
	// {"index": {...}}; either way, no network.
	if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(store.ManifestPath))); err == nil {
		var man struct {
			GPU   bool `json:"gpu"`
			Entry struct {
				GPU bool `json:"gpu"`
			} `json:"entry"`
			Index struct {
				GPU bool `json:"gpu"`
			} `json:"index"`
		}
		if json.Unmarshal(data, &man) == nil {
			m.GPU = man.GPU || man.Entry.GPU || man.Index.GPU
		}
	}
	return m, nil
}
