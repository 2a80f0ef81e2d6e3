package predict

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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
	// Masks are the array outputs written in the input's geometry (or why
	// not), with label statistics; SEG the DICOM SEG files written (paths
	// relative to the output folder).
	Masks []MaskFile `json:"masks,omitempty"`
	SEG   []string   `json:"seg,omitempty"`
	// Stored says what the PACS made of each SEG sent back (predict
	// --store): accepted, or refused and why.
	Stored []StoredInstance `json:"stored,omitempty"`
	Time   time.Time        `json:"time"` // when the answer came
	// Folder is where the input's output files go, relative to the output
	// folder (slash-separated); Run the run that made the line (runs/RUN.json).
	Folder string `json:"folder,omitempty"`
	Run    string `json:"run,omitempty"`

	// cause is why it failed, when an engine may be to blame (nil for an
	// input's own error).
	cause error
}

// StoredInstance is a SEG sent to a PACS (STOW-RS) and its fate.
type StoredInstance struct {
	File           string `json:"file"` // relative to the output folder
	SOPInstanceUID string `json:"sop_instance_uid"`
	Accepted       bool   `json:"accepted"`
	Reason         string `json:"reason,omitempty"` // why it was refused
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

// legacyOwner owns the output folders of lines that do not name their folder.
const legacyOwner = "\x00legacy"

// readDone returns the sha256 of every input with an "ok" line in the
// results file of the output folder dir (a missing file is empty; a link
// there is refused), the output folders earlier lines used (folder -> input
// name), and whether the file ends without a newline (a line cut by a
// crash), which the next append closes.
func readDone(dir string) (map[string]bool, map[string]string, bool, error) {
	done := map[string]bool{}
	claims := map[string]string{}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return done, claims, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	defer root.Close()
	if err := checkOut(root, dir, ResultsFile); err != nil {
		return nil, nil, false, err
	}
	f, err := root.Open(ResultsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return done, claims, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64*1024)
	cut := false
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			cut = line[len(line)-1] != '\n'
			var res struct {
				Input  string      `json:"input"`
				SHA256 string      `json:"sha256"`
				Status string      `json:"status"`
				Folder string      `json:"folder"`
				Saved  []SavedFile `json:"saved"`
			}
			if json.Unmarshal(line, &res) == nil {
				if res.Status == StatusOK && res.SHA256 != "" {
					done[res.SHA256] = true
				}
				switch {
				case res.Folder != "" && res.Input != "":
					claims[res.Folder] = res.Input
				case len(res.Saved) > 0: // a line of modelhub before "folder" (case16.png/):
					// the folder stays taken, but its input moves to its stem
					if d := path.Dir(res.Saved[0].Path); d != "." {
						claims[d] = legacyOwner
					}
				}
			}
		}
		if err == io.EOF {
			return done, claims, cut, nil
		}
		if err != nil {
			return nil, nil, false, err
		}
	}
}

// openResults opens DIR/results.jsonl for appending, through an os.Root of
// the output folder, refusing a link planted there.
func openResults(dir string, cut bool) (*resultsLog, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := checkOut(root, dir, ResultsFile); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(ResultsFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s in the output folder %s is not a regular file: remove it or choose another folder with -o", ResultsFile, dir)
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
	data, err := JSONLine(r)
	if err != nil {
		return err
	}
	_, err = l.f.Write(data)
	return err
}

// JSONLine is r as one line of JSON ending in a newline, for results.jsonl
// and --json, with the keys in Result's order. The engine's answer (up to
// engine.MaxAnswer) is copied once, compacted into a buffer of the line's size:
// json.Marshal would hold it three times (its buffer growing, the copy it
// returns, the newline appended).
func JSONLine(r *Result) ([]byte, error) {
	rest := *r
	rest.Output = nil
	head, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	if len(r.Output) == 0 {
		return append(head, '\n'), nil
	}
	// "output" goes before "saved" (when there is one), else before "time",
	// the last key. Neither can occur earlier unescaped: a quote inside a
	// value is \".
	at := bytes.LastIndex(head, []byte(`,"saved":`))
	if at < 0 {
		at = bytes.LastIndex(head, []byte(`,"time":`))
	}
	if at < 0 {
		return nil, fmt.Errorf("results line without a time: %s", head)
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(head)+len(r.Output)+16))
	buf.Write(head[:at])
	buf.WriteString(`,"output":`)
	if err := json.Compact(buf, r.Output); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %w", err)
	}
	buf.Write(head[at:])
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (l *resultsLog) close() error { return l.f.Close() }
