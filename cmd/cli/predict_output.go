package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

// predictOutput shows a batch: JSON lines on stdout as results come (--json)
// or a table at the end; on stderr one bar (done/total, rate, ETA) on a
// terminal, a line per input otherwise, nothing with --quiet.
type predictOutput struct {
	io     *IOStreams
	json   bool
	total  int
	outDir string // -o as given: saved files are shown under it

	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	done    int
	rows    map[string]*predict.Result
	unsaved int
}

func newPredictOutput(ios *IOStreams, jsonOut bool, total int) *predictOutput {
	o := &predictOutput{io: ios, json: jsonOut, total: total, rows: map[string]*predict.Result{}}
	if ios.Progress() {
		o.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(ios.ErrOut),
			progressbar.OptionSetDescription("predicting"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("inputs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	return o
}

// result is the Runner's OnResult: called once per input, one at a time.
func (o *predictOutput) result(r *predict.Result, s predict.Summary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done++
	if o.json {
		_, _ = o.io.Out.Write(jsonLine(r))
	} else {
		// keep what the table shows, not the whole answer
		row := *r
		row.Output = compactOutput(r.Output)
		o.rows[r.Input] = &row
	}
	if len(r.Saved) == 0 {
		o.unsaved += len(fileOutputs(r.Output))
	}
	switch {
	case o.io.Quiet:
	case o.bar != nil:
		if r.Status != predict.StatusOK {
			_ = o.bar.Clear()
			fprintf(o.io.ErrOut, "✗ %s: %s\n", cell(r.Input), cell(r.Error))
		}
		_ = o.bar.Add(1)
	default:
		if r.Status == predict.StatusOK {
			fprintf(o.io.ErrOut, "[%d/%d] %s: ok (%s)\n", o.done, o.total, cell(r.Input), fmtMS(r.LatencyMS))
		} else {
			fprintf(o.io.ErrOut, "[%d/%d] %s: failed: %s\n", o.done, o.total, cell(r.Input), cell(r.Error))
		}
	}
}

func (o *predictOutput) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bar != nil {
		_ = o.bar.Finish()
		_ = o.bar.Clear()
		o.bar = nil
	}
}

// table prints the results in input order (not with --json).
func (o *predictOutput) table(items []predict.Item) {
	if o.json {
		return
	}
	tw := tabwriter.NewWriter(o.io.Out, 0, 0, 2, ' ', 0)
	fprintf(tw, "INPUT\tSTATUS\tLATENCY\tRESULT\n")
	for _, it := range items {
		r, ok := o.rows[it.Name]
		if !ok {
			continue
		}
		res := r.Error
		if r.Status == predict.StatusOK {
			res = describeOutput(r, o.outDir)
		}
		fprintf(tw, "%s\t%s\t%s\t%s\n", cell(r.Input), cell(r.Status), fmtMS(r.LatencyMS), cell(oneLine(res)))
	}
	_ = tw.Flush()
}

func fmtMS(ms float64) string {
	if ms >= 10000 {
		return fmt.Sprintf("%.1fs", ms/1000)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// outputSummary is what the table needs of one output.
type outputSummary struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Shape      []int           `json:"shape"`
	Prediction smallPrediction `json:"prediction"`
}

// smallPrediction is an output's prediction when the table can show it: a
// string (a file's URL) or a list of objects (a label_list). An inline array
// of numbers (a mask, a volume, up to engine.MaxAnswer) is skipped without
// being copied.
type smallPrediction []byte

func (p *smallPrediction) UnmarshalJSON(b []byte) error {
	*p = nil
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) > 0 && (t[0] == '"' || t[0] == '[' && bytes.HasPrefix(bytes.TrimLeft(t[1:], " \t\r\n"), []byte("{"))) {
		*p = append(smallPrediction(nil), b...)
	}
	return nil
}

func (p smallPrediction) MarshalJSON() ([]byte, error) {
	if len(p) == 0 {
		return []byte("null"), nil
	}
	return p, nil
}

// compactOutput keeps the outputs' type, name, shape, and a label_list's
// labels or a file's URL: a table row never holds a large inline array.
func compactOutput(raw json.RawMessage) json.RawMessage {
	var a struct {
		Output []outputSummary `json:"output"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return nil
	}
	for i := range a.Output {
		p := a.Output[i].Prediction
		if a.Output[i].Type != "label_list" && (len(p) == 0 || p[0] != '"') {
			a.Output[i].Prediction = nil
		}
	}
	data, _ := json.Marshal(a)
	return data
}

// fileOutputs are the outputs given as URLs of output files.
func fileOutputs(raw json.RawMessage) []string {
	var a struct {
		Output []outputSummary `json:"output"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return nil
	}
	var urls []string
	for _, o := range a.Output {
		var s string
		if json.Unmarshal(o.Prediction, &s) == nil && engine.IsOutputURL(s) {
			urls = append(urls, s)
		}
	}
	return urls
}

type label struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// describeOutput is the RESULT cell: top labels with probabilities for a
// label_list; type, shape and where the file went for other outputs.
func describeOutput(r *predict.Result, outDir string) string {
	var a struct {
		Output []outputSummary `json:"output"`
	}
	if json.Unmarshal(r.Output, &a) != nil || len(a.Output) == 0 {
		return "(no output)"
	}
	saved := map[string]string{}
	for _, s := range r.Saved {
		saved[s.URL] = filepath.Join(outDir, filepath.FromSlash(s.Path))
	}
	var parts []string
	for _, o := range a.Output {
		if o.Type == "label_list" {
			var ls []label
			if json.Unmarshal(o.Prediction, &ls) == nil && len(ls) > 0 {
				sort.SliceStable(ls, func(i, j int) bool { return ls[i].Probability > ls[j].Probability })
				var top []string
				for i, l := range ls {
					if i == 3 {
						break
					}
					top = append(top, fmt.Sprintf("%s %.2f", l.Label, l.Probability))
				}
				parts = append(parts, strings.Join(top, ", "))
				continue
			}
		}
		d := o.Type + " " + shapeString(o.Shape)
		var u string
		if json.Unmarshal(o.Prediction, &u) == nil && u != "" {
			where := u
			for k, v := range saved {
				if strings.HasSuffix(k, engine.OutputPath(u)) {
					where = v
				}
			}
			d += " → " + where
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

func shapeString(s []int) string {
	var b []string
	for _, n := range s {
		b = append(b, fmt.Sprint(n))
	}
	return "[" + strings.Join(b, " ") + "]"
}

// folderTable prints every input of the output folder (its latest result in
// results.jsonl, in the order inputs were first recorded), not only this
// run's: a resumed batch ends with the table of the whole cohort.
func (o *predictOutput) folderTable(dir string) {
	if o.json {
		return
	}
	tw := tabwriter.NewWriter(o.io.Out, 0, 0, 2, ' ', 0)
	fprintf(tw, "INPUT\tSTATUS\tLATENCY\tRESULT\n")
	_, err := predict.EachRecord(dir, func(r *predict.Record) error {
		res := r.Error
		if r.Status == predict.StatusOK {
			res = describeRecord(r, o.outDir)
		}
		fprintf(tw, "%s\t%s\t%s\t%s\n", cell(r.Input), cell(r.Status), fmtMS(r.LatencyMS), cell(oneLine(res)))
		return nil
	})
	if err != nil {
		o.io.Notef("cannot read %s for the table: %v", filepath.Join(o.outDir, predict.ResultsFile), err)
		return
	}
	_ = tw.Flush()
}

// describeRecord is the RESULT cell of a recorded input, as describeOutput
// words a fresh one.
func describeRecord(r *predict.Record, outDir string) string {
	var parts []string
	if len(r.Labels) > 0 {
		var top []string
		for i, l := range r.Labels {
			if i == 3 {
				break
			}
			top = append(top, fmt.Sprintf("%s %.2f", l.Label, l.Probability))
		}
		parts = append(parts, strings.Join(top, ", "))
	}
	for _, out := range r.Outputs {
		d := out.Type + " " + shapeString(out.Shape)
		switch {
		case out.Path != "":
			d += " → " + filepath.Join(outDir, filepath.FromSlash(out.Path))
		case out.URL != "":
			d += " → " + out.URL
		}
		for _, m := range r.Masks {
			if m.Output == out.Name && m.Path != "" {
				d += ", " + filepath.Join(outDir, filepath.FromSlash(m.Path))
			}
		}
		parts = append(parts, d)
	}
	for _, p := range r.SEG {
		d := "SEG → " + filepath.Join(outDir, filepath.FromSlash(p))
		for _, st := range r.Stored {
			switch {
			case st.File != p:
			case st.Accepted:
				d += " (stored in the PACS)"
			default:
				d += " (refused by the PACS: " + st.Reason + ")"
			}
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "(no output)"
	}
	return strings.Join(parts, "; ")
}
