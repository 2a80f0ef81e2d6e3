// Package report writes report.html: a self-contained page (no network, its
// script and style inline under a strict Content-Security-Policy, its images
// beside it in report_files/) to review the results of a predict output
// folder: a card per input with the input drawn (a 2-D image, or a volume's
// middle slices in three planes), masks in colour over it with an opacity
// control, heatmaps as a colour map, label bars and errors, sortable and
// filterable, in pages so that 10,000 cases stay usable. Everything that
// comes from inputs, models or engines is escaped. It never prints.
package report

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

// File is the report's name in the output folder; FilesDir the folder of
// its images.
const (
	File     = "report.html"
	FilesDir = "report_files"
)

//go:embed assets
var assets embed.FS

// Options describe the report.
type Options struct {
	Model string
	// Now is when the report is written (time.Now when zero).
	Now time.Time
	// Limits bound each array read for a preview.
	Limits ndarray.Limits
}

// Stats say what a Write did.
type Stats struct {
	Cases    int
	Rendered int // cases whose images were drawn now (the others were kept)
}

// Case is one card of the report, as its script receives it.
type Case struct {
	Input     string          `json:"input"`
	Status    string          `json:"status"`
	Error     string          `json:"error,omitempty"`
	LatencyMS float64         `json:"latency_ms"`
	Time      string          `json:"time,omitempty"`
	Run       string          `json:"run,omitempty"`
	Labels    []predict.Label `json:"labels,omitempty"`
	Views     []View          `json:"views,omitempty"`
	Files     []Link          `json:"files,omitempty"`
	Notes     []string        `json:"notes,omitempty"`
}

// View is a set of planes drawn together: the input with the outputs over
// it, or an output that cannot go over the input, on its own.
type View struct {
	Title  string   `json:"title"`
	Planes []Pane   `json:"planes"`
	Blank  []string `json:"blank,omitempty"` // masks with no label at all
}

// Pane is one plane: the input's picture and the layers drawn over it.
type Pane struct {
	Name   string  `json:"name"`
	Base   string  `json:"base,omitempty"` // relative URL of the input's picture
	Layers []Layer `json:"layers,omitempty"`
}

// Layer is one output drawn over a pane.
type Layer struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // mask, heat, gray
	Src   string `json:"src"`
	Blank bool   `json:"blank,omitempty"`
}

// Link is an output file saved in the folder.
type Link struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
}

var keyRe = regexp.MustCompile(`^[0-9a-f]{20}$`)

// Write renders DIR/report.html for the records of DIR (predict.ReadRecords)
// and the images it needs under DIR/report_files/KEY/, one folder per case
// named by a hash of the case's result (never by its name): a case whose
// result did not change keeps its images, folders of results that are gone
// are removed. Everything is written through an os.Root confined to DIR.
func Write(ctx context.Context, dir string, recs []predict.Record, o Options) (Stats, error) {
	b, err := NewBuilder(ctx, dir, o)
	if err != nil {
		return Stats{}, err
	}
	for i := range recs {
		if err := b.Add(&recs[i]); err != nil {
			b.Abort()
			return b.st, err
		}
	}
	return b.Close()
}

// Builder writes a report as Write does, a record at a time (Add, in the
// order of the cards, then Close), so that a folder's records need not be
// held together (predict.EachRecord).
type Builder struct {
	ctx   context.Context
	dir   string
	o     Options
	root  *os.Root
	st    Stats
	cases *os.File      // the cards' JSON array (casesTmp), without its closing ]
	bw    *bufio.Writer // into cases
	count map[string]int
	keep  map[string]bool
	scans seriesScans
}

// NewBuilder starts the report of dir.
func NewBuilder(ctx context.Context, dir string, o Options) (*Builder, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := root.MkdirAll(FilesDir, 0o755); err != nil {
		root.Close()
		return nil, err
	}
	// the cards go into the page as one JSON array, written to a file as
	// they are made: kept in memory, 10,000 of them (several MB) doubled
	// what predict holds
	f, err := root.OpenFile(casesTmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		root.Close()
		return nil, err
	}
	b := &Builder{ctx: ctx, dir: dir, o: o, root: root, cases: f, bw: bufio.NewWriterSize(f, 64<<10),
		count: map[string]int{}, keep: map[string]bool{}, scans: seriesScans{}}
	b.bw.WriteByte('[')
	return b, nil
}

// casesTmp holds the cards' JSON while a Builder runs (not a KEY folder:
// Close's clean-up leaves it; it removes it itself).
const casesTmp = FilesDir + "/cases.json.tmp"

// Add draws (or finds drawn) the card of r.
func (b *Builder) Add(r *predict.Record) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	key := caseKey(r)
	b.keep[key] = true
	c, fresh, err := caseFor(b.root, b.dir, key, r, b.o.Limits, b.scans)
	if err != nil {
		return err
	}
	if fresh {
		b.st.Rendered++
	}
	data, err := json.Marshal(c) // escapes < > & and U+2028/9: safe in a script element
	if err != nil {
		return err
	}
	if b.st.Cases > 0 {
		b.bw.WriteByte(',')
	}
	if _, err := b.bw.Write(data); err != nil {
		return err
	}
	b.count[c.Status]++
	b.st.Cases++
	return nil
}

// Abort leaves the report as it was (the pictures drawn stay for later).
func (b *Builder) Abort() {
	_ = b.cases.Close()
	_ = b.root.Remove(casesTmp)
	_ = b.root.Close()
}

// Close removes the pictures of results that are gone and writes the page.
func (b *Builder) Close() (Stats, error) {
	root, st := b.root, b.st
	defer root.Close()
	defer func() {
		_ = b.cases.Close()
		_ = root.Remove(casesTmp)
	}()
	b.bw.WriteByte(']')
	if err := b.bw.Flush(); err != nil {
		return st, err
	}
	if _, err := b.cases.Seek(0, io.SeekStart); err != nil {
		return st, err
	}
	if ents, err := fs.ReadDir(root.FS(), FilesDir); err == nil {
		for _, e := range ents {
			if keyRe.MatchString(e.Name()) && !b.keep[e.Name()] {
				_ = root.RemoveAll(FilesDir + "/" + e.Name())
			}
		}
	}
	tmp := File + ".tmp"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return st, err
	}
	// streamed to the file: a page of 10,000 cases is several MB, and
	// building it in memory first doubled predict's peak memory
	bw := bufio.NewWriterSize(f, 64<<10)
	err = Render(bw, bufio.NewReaderSize(b.cases, 64<<10), st.Cases, pageInfo(b.dir, b.o, b.count))
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(tmp)
		return st, err
	}
	if err := root.Rename(tmp, File); err != nil {
		_ = root.Remove(tmp)
		return st, err
	}
	return st, nil
}

// caseKey names a case's image folder: a hash of what its images depend on.
func caseKey(r *predict.Record) string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\x00%s\x00%s\x00%s\x00%s\x00%s\x00", r.Input, r.SHA256, r.Status, r.Time.Format(time.RFC3339Nano), r.Source)
	for _, o := range r.Outputs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", o.Name, o.Type, o.Path)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// caseFor returns the card of a record: read from report_files/KEY/case.json
// when an earlier report drew it, else drawn now (fresh).
func caseFor(root *os.Root, dir, key string, r *predict.Record, lim ndarray.Limits, scans seriesScans) (Case, bool, error) {
	cf := caseFolder{root: root, folder: FilesDir + "/" + key}
	if data, err := root.ReadFile(cf.folder + "/case.json"); err == nil {
		var c Case
		if json.Unmarshal(data, &c) == nil {
			return c, false, nil
		}
	}
	_ = root.RemoveAll(cf.folder)
	if err := root.MkdirAll(cf.folder, 0o755); err != nil {
		return Case{}, false, err
	}
	c := newCase(r)
	main, err := cf.inputView(&c, r, lim, scans)
	if err != nil {
		return Case{}, false, err
	}
	extra, err := cf.outputViews(&c, dir, r, main, lim)
	if err != nil {
		return Case{}, false, err
	}
	if main != nil {
		c.Views = append(c.Views, *main)
	}
	c.Views = append(c.Views, extra...)
	maskNotes(&c, r)
	data, err := json.Marshal(c)
	if err != nil {
		return Case{}, false, err
	}
	if _, err := cf.write("case.json", data); err != nil {
		return Case{}, false, err
	}
	return c, true, nil
}

// caseFolder is the folder of one card's files, report_files/KEY, under root.
type caseFolder struct {
	root   *os.Root
	folder string
}

// write writes one file of the card and returns its path under root.
func (cf caseFolder) write(name string, data []byte) (string, error) {
	if err := cf.root.WriteFile(cf.folder+"/"+name, data, 0o644); err != nil {
		return "", err
	}
	return cf.folder + "/" + name, nil
}

// newCase is a card's facts from its record: input, status, error, latency,
// run, time (UTC) and its first 5 labels; no views yet.
func newCase(r *predict.Record) Case {
	c := Case{Input: r.Input, Status: r.Status, Error: r.Error, LatencyMS: r.LatencyMS, Run: r.Run, Labels: r.Labels}
	if !r.Time.IsZero() {
		c.Time = r.Time.UTC().Format(time.RFC3339)
	}
	if len(c.Labels) > 5 {
		c.Labels = c.Labels[:5]
	}
	return c
}

// inputView draws the record's input (from its file, else its first DICOM
// series) as input-N.png, one per plane, and returns its view, or nil with a
// note in c when there is no input file or it cannot be drawn.
func (cf caseFolder) inputView(c *Case, r *predict.Record, lim ndarray.Limits, scans seriesScans) (*View, error) {
	src, what := inputFile(r)
	if src == "" && what != "" {
		c.Notes = append(c.Notes, what)
	}
	if src == "" {
		return nil, nil
	}
	v, err := Load(src, lim)
	if err != nil && len(r.DICOM) > 0 {
		v, err = scans.load(r.DICOM[0], lim)
	}
	if err != nil {
		c.Notes = append(c.Notes, "the input "+what+"cannot be drawn: "+err.Error())
		return nil, nil
	}
	main := &View{Title: "input " + what}
	if len(v.Shape) == 3 && len(v.Planes) == 3 {
		main.Title += fmt.Sprintf("(volume %d×%d×%d, middle slices)", v.Shape[0], v.Shape[1], v.Shape[2])
	}
	main.Title = strings.TrimSpace(main.Title)
	for i := range v.Planes {
		data, err := EncodePNG(v.Planes[i].Gray())
		if err != nil {
			return nil, err
		}
		p, err := cf.write(fmt.Sprintf("input-%d.png", i), data)
		if err != nil {
			return nil, err
		}
		main.Planes = append(main.Planes, Pane{Name: v.Planes[i].Name, Base: p})
	}
	return main, nil
}

// outputViews links every output file of the record in c and draws those of a
// known kind as outN-M.png: laid over the input view main when they match its
// planes (and are not gray images), else returned as views of their own. An
// output outside dir or that cannot be drawn gets a note instead.
func (cf caseFolder) outputViews(c *Case, dir string, r *predict.Record, main *View, lim ndarray.Limits) ([]View, error) {
	var extra []View
	for oi, out := range r.Outputs {
		if out.Path != "" {
			c.Files = append(c.Files, Link{Name: out.Name, Type: out.Type, Path: out.Path})
		}
		kind := KindOf(out.Type)
		if out.Path == "" || kind == "" {
			continue
		}
		full, err := confined(dir, out.Path)
		if err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("output %s: %v", out.Name, err))
			continue
		}
		pngs, names, blank, err := OutputPNG(full, kind, lim)
		if err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("output %s cannot be drawn: %v", out.Name, err))
			continue
		}
		var layers []Layer
		for pi, data := range pngs {
			p, err := cf.write(fmt.Sprintf("out%d-%d.png", oi, pi), data)
			if err != nil {
				return nil, err
			}
			layers = append(layers, Layer{Name: out.Name, Kind: kind, Src: p, Blank: blank})
		}
		if main != nil && len(main.Planes) == len(layers) && kind != KindGray {
			for pi := range layers {
				main.Planes[pi].Layers = append(main.Planes[pi].Layers, layers[pi])
			}
			if blank {
				main.Blank = append(main.Blank, out.Name)
			}
			continue
		}
		v := View{Title: out.Name + " (" + out.Type + ")"}
		for pi := range layers {
			v.Planes = append(v.Planes, Pane{Name: names[pi], Layers: []Layer{layers[pi]}})
		}
		if blank {
			v.Blank = []string{out.Name}
		}
		extra = append(extra, v)
	}
	return extra, nil
}

// inputFile is the local file to draw for a record's input, and how to name
// it; a case of several inputs is drawn from the first (by name).
func inputFile(r *predict.Record) (string, string) {
	if r.Source != "" {
		if strings.Contains(r.Source, "://") {
			return "", "the input is a URL; it is not fetched for the report"
		}
		return r.Source, ""
	}
	if len(r.Files) > 0 {
		var names []string
		for n := range r.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if p := r.Files[n]; p != "" && !strings.Contains(p, "://") {
				return p, n + " "
			}
		}
	}
	return "", ""
}

// confined resolves rel inside dir, refusing a path that leaves it or goes
// through a symbolic link (a results.jsonl is data, not a pointer to follow).
func confined(dir, rel string) (string, error) {
	clean := path.Clean("/" + filepath.ToSlash(rel))[1:]
	if clean == "" || clean != filepath.ToSlash(rel) {
		return "", fmt.Errorf("path %q leaves the output folder", rel)
	}
	cur := dir
	for _, part := range strings.Split(clean, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", errors.New("the file is missing")
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symbolic link", rel)
		}
	}
	return cur, nil
}

// Info is the page's header.
type Info struct {
	Model     string
	Generated string
	Counts    map[string]int
	Runs      []predict.Provenance
}

func pageInfo(dir string, o Options, counts map[string]int) Info {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	in := Info{Model: o.Model, Generated: now.UTC().Format(time.RFC3339), Counts: counts}
	in.Runs = ReadRuns(dir)
	return in
}

// ReadRuns reads DIR/runs/*.json, oldest first (unreadable files skipped).
func ReadRuns(dir string) []predict.Provenance {
	ents, err := os.ReadDir(filepath.Join(dir, predict.RunsDir))
	if err != nil {
		return nil
	}
	var runs []predict.Provenance
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, predict.RunsDir, e.Name()))
		if err != nil || len(data) > 16<<20 {
			continue
		}
		var p predict.Provenance
		if json.Unmarshal(data, &p) == nil {
			p.IndexEntry = nil
			runs = append(runs, p)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].StartedAt.Before(runs[j].StartedAt) })
	return runs
}

var page = template.Must(template.New("report.html").ParseFS(assets, "assets/report.html"))

// Render writes the page to w: cases reads the JSON array of its n cards
// (Case values, as json.Marshal writes them: < > & and U+2028/9 escaped, so
// safe in a script element), copied into the page as it is read.
func Render(w io.Writer, cases io.Reader, n int, in Info) error {
	css, err := assets.ReadFile("assets/report.css")
	if err != nil {
		return err
	}
	js, err := assets.ReadFile("assets/report.js")
	if err != nil {
		return err
	}
	// the page is rendered around a marker that nothing else in it can
	// hold (random), where the cards are then copied
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	marker := "cases-" + hex.EncodeToString(nonce[:])
	csp := fmt.Sprintf("default-src 'none'; img-src 'self' data:; style-src '%s'; script-src '%s'; base-uri 'none'; form-action 'none'", hashOf(css), hashOf(js))
	var b bytes.Buffer
	err = page.Execute(&b, map[string]any{
		"CSP":    csp,
		"CSS":    template.CSS(css),
		"JS":     template.JS(js),
		"Data":   template.JS(marker),
		"Info":   in,
		"Total":  n,
		"Failed": in.Counts[predict.StatusFailed],
		"OK":     in.Counts[predict.StatusOK],
	})
	if err != nil {
		return err
	}
	head, tail, ok := bytes.Cut(b.Bytes(), []byte(marker))
	if !ok {
		return errors.New("report template: no place for the cases")
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if _, err := io.Copy(w, cases); err != nil {
		return err
	}
	_, err = w.Write(tail)
	return err
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// maskNotes lists a case's masks written in the input's geometry, their
// label statistics and SEGs.
func maskNotes(c *Case, r *predict.Record) {
	for _, m := range r.Masks {
		if m.Path != "" {
			c.Files = append(c.Files, Link{Name: path.Base(m.Path), Type: "in the input's geometry (" + m.Order + ")", Path: m.Path})
		}
		if m.Overlay != "" {
			c.Files = append(c.Files, Link{Name: path.Base(m.Overlay), Type: "overlay", Path: m.Overlay})
		}
		for _, l := range m.Labels {
			s := fmt.Sprintf("%s label %d", m.Output, l.Value)
			if l.Name != "" {
				s += " (" + l.Name + ")"
			}
			s += fmt.Sprintf(": %d voxels", l.Voxels)
			if l.ML > 0 {
				s += fmt.Sprintf(", %.4g ml", l.ML)
			}
			c.Notes = append(c.Notes, s+fmt.Sprintf(", mean input intensity %.4g", l.Mean))
		}
		if m.Warning != "" {
			c.Notes = append(c.Notes, m.Output+": "+m.Warning)
		}
	}
	for _, s := range r.SEG {
		c.Files = append(c.Files, Link{Name: path.Base(s), Type: "DICOM SEG", Path: s})
	}
}
