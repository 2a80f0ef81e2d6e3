package predict

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ResultsFile is the name of the results log in the output folder.
const ResultsFile = "results.jsonl"

// Statuses of a Result.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Result is one input's outcome: a line of results.jsonl and of --json.
type Result struct {
	Input     string            `json:"input"`            // the input's name (its output folder)
	Source    string            `json:"source,omitempty"` // the file's path or the URL
	Files     map[string]string `json:"files,omitempty"`  // a case's inputs: name -> path or URL
	DICOM     []SeriesOrigin    `json:"dicom,omitempty"`  // the DICOM series converted into the input(s), and how
	SHA256    string            `json:"sha256"`
	Status    string            `json:"status"` // ok or failed
	Error     string            `json:"error,omitempty"`
	LatencyMS float64           `json:"latency_ms"`
	Output    json.RawMessage   `json:"output,omitempty"` // the engine's answer, as it sent it
	Saved     []SavedFile       `json:"saved,omitempty"`  // output files downloaded into the output folder
	Time      time.Time         `json:"time"`             // when the answer came
}

// SavedFile is an output file the engine returned as a URL, downloaded.
type SavedFile struct {
	Output string `json:"output"` // the output's name
	URL    string `json:"url"`
	Path   string `json:"path"` // relative to the output folder (slash-separated)
}

// resultsLog appends results to DIR/results.jsonl, one whole line per Write.
type resultsLog struct {
	f *os.File
}

// readDone returns the sha256 of every input with an "ok" line in the
// results file at p (a missing file is empty), and whether the file ends
// without a newline (a line cut by a crash), which the next append closes.
func readDone(p string) (map[string]bool, bool, error) {
	done := map[string]bool{}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return done, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64*1024)
	cut := false
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			cut = line[len(line)-1] != '\n'
			var res struct {
				SHA256 string `json:"sha256"`
				Status string `json:"status"`
			}
			if json.Unmarshal(line, &res) == nil && res.Status == StatusOK && res.SHA256 != "" {
				done[res.SHA256] = true
			}
		}
		if err == io.EOF {
			return done, cut, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

func openResults(dir string, cut bool) (*resultsLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if cut {
		if _, err := f.Write([]byte("\n")); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &resultsLog{f: f}, nil
}

// append writes r as one line with a single write (the file is unbuffered:
// the line is in the file when append returns).
func (l *resultsLog) append(r *Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = l.f.Write(append(data, '\n'))
	return err
}

func (l *resultsLog) close() error { return l.f.Close() }
