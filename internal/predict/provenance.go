package predict

import (
	"encoding/json"
	"fmt"
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
	// Replicas, with predict --replicas, are the containers of the model
	// the inputs were spread over (Engine and Container are the first's).
	Replicas []string `json:"replicas,omitempty"`
	// Shard is "I/N" when this run predicted one shard of the inputs (--shard).
	Shard           string `json:"shard,omitempty"`
	ModelhubVersion string `json:"modelhub_version"`
	// Command is modelhub's command line.
	Command   []string  `json:"command"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// DICOMSeries are the DICOM series found in the inputs: which were used
	// (converted as each result's "dicom" says) and why the others were not.
	DICOMSeries []SeriesDecision `json:"dicom_series,omitempty"`
	// PACS is the DICOMweb server the inputs were fetched from (predict
	// --from): its URL (never with credentials) and the study's UID.
	PACS *PACSSource `json:"pacs,omitempty"`
	// RunID names the run: runs/RUN_ID.json keeps its record after later
	// runs replace provenance.json, and results.jsonl's "run" points to it.
	RunID string `json:"run_id,omitempty"`
	// Counts of this run (not of earlier runs into the same folder): OK
	// inputs done now, Failed, DoneBefore (already done in the folder),
	// Unsupported (files of a type the model does not take); Skipped is
	// DoneBefore+Unsupported.
	OK          int `json:"ok"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	DoneBefore  int `json:"done_before"`
	Unsupported int `json:"unsupported"`
}

// RunsDir is the folder of the output folder that keeps every run's record.
const RunsDir = "runs"

// NewRunID names a run started at t: its UTC time and a counter that makes
// it unique among the runs already in DIR/runs.
func NewRunID(dir string, t time.Time) string {
	base := t.UTC().Format("20060102T150405Z")
	id := base
	for k := 2; ; k++ {
		if _, err := os.Lstat(filepath.Join(dir, RunsDir, id+".json")); err != nil {
			return id
		}
		id = fmt.Sprintf("%s-%d", base, k)
	}
}

// WeightFile is an external file of the model, as its manifest records it.
type WeightFile struct {
	Path   string `json:"path"` // relative to the model folder
	URL    string `json:"url,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// WriteProvenance writes DIR/provenance.json atomically (a temporary file
// renamed) and, when the run has an ID, the same record as
// DIR/runs/RUN_ID.json, which later runs leave alone.
func WriteProvenance(dir string, p *Provenance) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if p.RunID != "" {
		if err := writeAtomic(dir, RunsDir+"/"+SafeFileName(p.RunID)+".json", append(data, '\n')); err != nil {
			return err
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := ProvenanceFile + ".tmp"
	if err := checkOut(root, dir, tmp, ProvenanceFile); err != nil {
		return err
	}
	if err := root.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, ProvenanceFile); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// ReadProvenance reads DIR/provenance.json (a link there is refused).
func ReadProvenance(dir string) (*Provenance, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := checkOut(root, dir, ProvenanceFile); err != nil {
		return nil, err
	}
	data, err := root.ReadFile(ProvenanceFile)
	if err != nil {
		return nil, err
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// PACSSource is where predict --from fetched its study: no patient data.
type PACSSource struct {
	URL   string `json:"url"`
	Study string `json:"study_uid"`
	// Folder is where the study's instances are, one folder per series.
	Folder string `json:"folder"`
	// Store says whether each SEG was sent back (--store).
	Store bool `json:"store"`
}
