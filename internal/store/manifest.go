package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// Manifest is MODEL/.modelhub/manifest.json: where a downloaded model came
// from and what was downloaded into it. A model starts from its manifest with
// no network and no index.
type Manifest struct {
	// Version of the manifest format.
	Version int `json:"version"`
	// Entry is the index entry the model was pulled from.
	Entry registry.Entry `json:"entry"`
	// Index is where Entry came from: the index URL, or the absolute path of
	// a local models.json. Empty in older manifests and for loaded bundles
	// whose origin is unknown.
	Index string `json:"index,omitempty"`
	// Commit is the git commit cloned.
	Commit string `json:"commit"`
	// Branch is the branch cloned: the index's github_branch, or the
	// repository's default branch when that one does not exist (then
	// `pull --update` follows this branch). Empty in older manifests.
	Branch string `json:"branch,omitempty"`
	// Notebook is true for a notebook model (a Google Colab notebook, not a
	// Docker model): only its repository is cloned; DockerID and Files are empty.
	Notebook bool `json:"notebook,omitempty"`
	// DockerID is init.json's docker_id at that commit.
	DockerID string `json:"docker_id"`
	// Files are the external files, in init.json order.
	Files []ManifestFile `json:"files"`
	// Complete is true only once the clone and every file are in place.
	Complete bool      `json:"complete"`
	PulledAt time.Time `json:"pulled_at,omitzero"`
}

// ManifestFile is one external file of a model.
type ManifestFile struct {
	// Path is init.json's dest_file_path, cleaned and relative to the model
	// folder (slash-separated).
	Path         string `json:"path"`
	SrcURL       string `json:"src_url"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	// Pinned: SHA256 is init.json's sha256 for this file, so every download
	// of it (repair included) must match it; otherwise SHA256 was computed.
	Pinned   bool `json:"pinned,omitempty"`
	Complete bool `json:"complete"`
}

const manifestVersion = 1

// cloneMarker is written into a staging folder once its clone is complete,
// so an interrupted pull can reuse it.
const cloneMarker = ".modelhub/clone.json"

// ReadManifest reads the manifest of the model folder dir.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, filepath.FromSlash(ManifestPath))
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// writeJSON writes v to dir/rel (rel slash-separated) atomically (temp
// file, fsync, rename), through an os.Root confined to dir and refusing links
// on the way (a model folder holds what its repository carries).
func writeJSON(dir, rel string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp := rel + ".tmp"
	for _, p := range []string{rel, tmp} {
		if err := safepath.CheckLinks(r, p); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, filepath.FromSlash(rel)), err)
		}
	}
	if err := r.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Remove(tmp)
		return err
	}
	return r.Rename(tmp, rel)
}

// WriteManifest writes m into the model folder dir.
func WriteManifest(dir string, m *Manifest) error {
	m.Version = manifestVersion
	return writeJSON(dir, ManifestPath, m)
}

// file returns the manifest entry for path, or nil.
func (m *Manifest) file(path string) *ManifestFile {
	if m == nil {
		return nil
	}
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// Changed returns the indexes in Files of the external files of the model
// folder dir that are missing, incomplete, not regular files or no longer of
// their recorded size: what a pull repairs (and `run` checks first).
func (m *Manifest) Changed(dir string) []int {
	var todo []int
	for i, f := range m.Files {
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size || !f.Complete {
			todo = append(todo, i)
		}
	}
	return todo
}
