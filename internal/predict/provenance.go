package predict

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// ProvenanceFile is the name of the provenance record in the output folder.
const ProvenanceFile = "provenance.json"

// Provenance says what produced the results of a batch: what a paper's
// methods section needs.
type Provenance struct {
	Model      string `json:"model"`
	ModelDir   string `json:"model_dir"`
	IndexEntry any    `json:"index_entry,omitempty"` // the index entry the model was pulled from
	GitCommit  string `json:"git_commit,omitempty"`  // the model repository's commit
	// Image is init.json's docker_id; ImageID the local image's ID and
	// ImageDigests its repository digests (empty for an image never pushed).
	Image        string       `json:"image"`
	ImageID      string       `json:"image_id,omitempty"`
	ImageDigests []string     `json:"image_digests,omitempty"`
	WeightFiles  []WeightFile `json:"weight_files"`
	// Engine is the API's base URL; Container the container that answered;
	// Reused is true when the model was already running.
	Engine    string `json:"engine"`
	Container string `json:"container,omitempty"`
	Reused    bool   `json:"reused"`
	GPU       bool   `json:"gpu"`
	// Shard is "I/N" when this run predicted one shard of the inputs (--shard).
	Shard           string `json:"shard,omitempty"`
	ModelhubVersion string `json:"modelhub_version"`
	// Command is modelhub's command line.
	Command   []string  `json:"command"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Counts of this run (not of earlier runs into the same folder).
	OK      int `json:"ok"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// WeightFile is an external file of the model, as its manifest records it.
type WeightFile struct {
	Path   string `json:"path"` // relative to the model folder
	URL    string `json:"url,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// WriteProvenance writes DIR/provenance.json atomically (a temporary file renamed).
func WriteProvenance(dir string, p *Provenance) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := ProvenanceFile + ".tmp"
	if err := root.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, ProvenanceFile); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// ReadProvenance reads DIR/provenance.json.
func ReadProvenance(dir string) (*Provenance, error) {
	data, err := os.ReadFile(filepath.Join(dir, ProvenanceFile))
	if err != nil {
		return nil, err
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
