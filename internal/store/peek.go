package store

import (
	"context"
	"fmt"
	"os"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/registry"
)

// Peek reads a model that is not downloaded: it makes a shallow clone of the
// tip of the entry's branch into a temporary folder (no external files are
// downloaded), reads its init.json and removes the clone. It returns the
// commit it read.
func Peek(ctx context.Context, entry *registry.Entry) (commit string, in *config.Init, err error) {
	tmp, err := os.MkdirTemp("", "modelhub-peek-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp)
	commit, err = fetch.Clone(ctx, fetch.CloneOptions{URL: entry.GitHub, Branch: entry.Branch(), Dir: tmp})
	if err != nil {
		return "", nil, err
	}
	in, err = config.LoadInit(tmp)
	if err != nil {
		return "", nil, fmt.Errorf("model %s (commit %s): %w", entry.Name, short(commit), err)
	}
	return commit, in, nil
}
