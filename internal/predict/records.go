package predict

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// CSVFile is the name of the results table in the output folder.
const CSVFile = "results.csv"

// Record is what review needs of one input of an output folder: its latest
// line of results.jsonl, without the engine's (possibly large) answer.
type Record struct {
	Input     string
	Source    string
	Files     map[string]string
	SHA256    string
	Status    string
	Error     string
	LatencyMS float64
	Time      time.Time
	Run       string
	Folder    string
	// Labels are a label_list's labels, most probable first (at most
	// MaxLabels).
	Labels []Label
	// Outputs are the answer's other outputs.
	Outputs []OutputInfo
	// Masks are the arrays written in the input's geometry, with label
	// statistics; SEG the DICOM SEG files (relative paths).
	Masks []MaskFile
	SEG   []string
	// Stored says what a PACS made of each SEG sent back (predict --store).
	Stored []StoredInstance
	// DICOM are the series the input was converted from.
	DICOM []SeriesOrigin
}

// MaxLabels bounds the labels a Record keeps.
const MaxLabels = 10

// Label is one label of a label_list.
type Label struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// OutputInfo is one output that is not a label_list.
type OutputInfo struct {
	Name  string
	Type  string // mask_image, heatmap, image, vector…
	Shape []int
	URL   string // the engine's URL of a file output
	Path  string // where it was saved, relative to the output folder ("" if not)
}

// Top is the most probable label, if any.
func (r *Record) Top() (Label, bool) {
	if len(r.Labels) == 0 {
		return Label{}, false
	}
	return r.Labels[0], true
}

// ReadRecords reads DIR/results.jsonl and returns one Record per input (by
// name): its latest line, in the order inputs first appear. A missing file
// has none; lines that do not parse (a line cut by a crash) are ignored.
func ReadRecords(dir string) ([]Record, error) {
	var recs []Record
	_, err := EachRecord(dir, func(r *Record) error {
		recs = append(recs, *r)
		return nil
	})
	return recs, err
}

// EachRecord calls fn with the records ReadRecords returns, in the same
// order, one at a time: a first pass notes where each input's latest line
// is, a second reads those lines, so a folder of 10,000 inputs is reviewed
// without holding them all. It returns how many records fn saw; an error of
// fn stops it and is returned.
func EachRecord(dir string, fn func(*Record) error) (int, error) {
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type loc struct {
		off int64
		n   int
	}
	var locs []loc
	at := map[string]int{}
	r := bufio.NewReaderSize(f, 64*1024)
	var off int64
	longest := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if rec, ok := parseRecord(line); ok {
				l := loc{off, len(line)}
				if i, seen := at[rec.Input]; seen {
					locs[i] = l
				} else {
					at[rec.Input] = len(locs)
					locs = append(locs, l)
				}
				longest = max(longest, len(line))
			}
		}
		off += int64(len(line))
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	at = nil
	buf := make([]byte, longest)
	for i, l := range locs {
		if _, err := f.ReadAt(buf[:l.n], l.off); err != nil {
			return i, err
		}
		rec, ok := parseRecord(buf[:l.n])
		if !ok { // the file changed under us
			return i, fmt.Errorf("%s changed while it was read", ResultsFile)
		}
		if err := fn(&rec); err != nil {
			return i, err
		}
	}
	return len(locs), nil
}

func parseRecord(line []byte) (Record, bool) {
	var res Result
	if json.Unmarshal(line, &res) != nil || res.Input == "" || (res.Status != StatusOK && res.Status != StatusFailed) {
		return Record{}, false
	}
	rec := Record{
		Input: res.Input, Source: res.Source, Files: res.Files, SHA256: res.SHA256, Status: res.Status,
		Error: res.Error, LatencyMS: res.LatencyMS, Time: res.Time, Run: res.Run, Folder: res.Folder,
		Masks: res.Masks, SEG: res.SEG, Stored: res.Stored, DICOM: res.DICOM,
	}
	saved := map[string]string{}
	for _, s := range res.Saved {
		saved[engine.OutputPath(s.URL)] = s.Path
	}
	var a struct {
		Output []struct {
			Prediction json.RawMessage `json:"prediction"`
			Shape      []int           `json:"shape"`
			Type       string          `json:"type"`
			Name       string          `json:"name"`
		} `json:"output"`
	}
	if len(res.Output) > 0 && json.Unmarshal(res.Output, &a) == nil {
		for _, o := range a.Output {
			if o.Type == "label_list" {
				var ls []Label
				if json.Unmarshal(o.Prediction, &ls) == nil && len(ls) > 0 {
					sort.SliceStable(ls, func(i, j int) bool { return ls[i].Probability > ls[j].Probability })
					if len(rec.Labels) == 0 {
						rec.Labels = ls[:min(len(ls), MaxLabels)]
					}
					continue
				}
			}
			oi := OutputInfo{Name: o.Name, Type: o.Type, Shape: o.Shape}
			var u string
			if json.Unmarshal(o.Prediction, &u) == nil {
				oi.URL = u
				oi.Path = saved[engine.OutputPath(u)]
			}
			rec.Outputs = append(rec.Outputs, oi)
		}
	}
	return rec, true
}

// CSVHeader is results.csv's first row.
var CSVHeader = []string{"input", "status", "top_label", "probability", "output_files", "latency_ms", "error", "time", "source", "sha256", "run", "label_stats", "seg"}

// WriteCSV writes DIR/results.csv (atomically: a temporary file renamed),
// one row per record. Cells that a spreadsheet would take for a formula
// (starting with = + - @, a tab or a carriage return) are prefixed with '.
func WriteCSV(dir string, recs []Record) error {
	c, err := CreateCSV(dir)
	if err != nil {
		return err
	}
	for i := range recs {
		if err := c.Add(&recs[i]); err != nil {
			c.Abort()
			return err
		}
	}
	return c.Close()
}

// CSV writes DIR/results.csv a row at a time, into a temporary file that
// Close renames into place (Abort removes it); confined to DIR (a link
// planted at either name is refused, never followed).
type CSV struct {
	root *os.Root
	f    *os.File
	bw   *bufio.Writer
	w    *csv.Writer
}

// CreateCSV starts DIR/results.csv with its header.
func CreateCSV(dir string) (*CSV, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := checkOut(root, dir, CSVFile, CSVFile+".tmp"); err != nil {
		root.Close()
		return nil, err
	}
	f, err := root.OpenFile(CSVFile+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		root.Close()
		return nil, err
	}
	c := &CSV{root: root, f: f, bw: bufio.NewWriterSize(f, 64<<10)}
	c.w = csv.NewWriter(c.bw)
	if err := c.w.Write(CSVHeader); err != nil {
		c.Abort()
		return nil, err
	}
	return c, nil
}

// Add writes the row of r.
func (c *CSV) Add(r *Record) error {
	label, prob := "", ""
	if t, ok := r.Top(); ok {
		label, prob = t.Label, strconv.FormatFloat(t.Probability, 'g', 6, 64)
	}
	var files []string
	for _, o := range r.Outputs {
		if o.Path != "" {
			files = append(files, o.Path)
		}
	}
	for _, m := range r.Masks {
		for _, p := range []string{m.Path, m.Overlay} {
			if p != "" {
				files = append(files, p)
			}
		}
	}
	source := r.Source
	if source == "" && len(r.Files) > 0 {
		var names []string
		for n := range r.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		var parts []string
		for _, n := range names {
			parts = append(parts, n+"="+r.Files[n])
		}
		source = strings.Join(parts, ";")
	}
	t := ""
	if !r.Time.IsZero() {
		t = r.Time.UTC().Format(time.RFC3339)
	}
	row := []string{r.Input, r.Status, label, prob, strings.Join(files, ";"),
		strconv.FormatFloat(r.LatencyMS, 'f', 1, 64), r.Error, t, source, r.SHA256, r.Run,
		LabelSummary(r.Masks), strings.Join(r.SEG, ";")}
	for j := range row {
		row[j] = csvSafe(row[j])
	}
	return c.w.Write(row)
}

// Close finishes the file and renames it into place.
func (c *CSV) Close() error {
	defer c.root.Close()
	c.w.Flush()
	err := c.w.Error()
	if err == nil {
		err = c.bw.Flush()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = c.root.Rename(CSVFile+".tmp", CSVFile); err != nil {
			err = fmt.Errorf("write %s: %w", CSVFile, err)
		}
	}
	if err != nil {
		_ = c.root.Remove(CSVFile + ".tmp")
	}
	return err
}

// Abort removes the unfinished file.
func (c *CSV) Abort() {
	_ = c.f.Close()
	_ = c.root.Remove(CSVFile + ".tmp")
	_ = c.root.Close()
}

func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		if _, err := strconv.ParseFloat(s, 64); err == nil && s[0] == '-' {
			return s // a negative number
		}
		return "'" + s
	}
	return s
}

// writeAtomic writes DIR/name through a temporary file renamed, confined to
// dir (a link planted at name is replaced, never followed).
func writeAtomic(dir, name string, data []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := name + ".tmp"
	if err := checkOut(root, dir, name, tmp); err != nil {
		return err
	}
	if d := filepath.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := root.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
