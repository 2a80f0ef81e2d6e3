package predict

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/modelhub-ai/modelhub/internal/ctxio"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// Copier puts the local files of a case where the engine can open them (in
// the model's container) and says where they are.
type Copier interface {
	// CopyCase copies files and returns each input's path as the engine
	// sees it, and a function that removes them again.
	CopyCase(ctx context.Context, files []CaseFile) (map[string]string, func(context.Context), error)
}

// Options tune a batch.
type Options struct {
	Jobs         int           // requests in flight (at least 1)
	InputTimeout time.Duration // per input; 0 = none
	OutDir       string        // results.jsonl and output files; "" = none
	Force        bool          // redo inputs already in results.jsonl
	// RunID names this run in results.jsonl ("run") and runs/ (see
	// NewRunID); "" records none.
	RunID string
}

// Runner sends a batch to one model: to one engine (Client and Copier), or
// to replicas of it (Engines), fed from one queue.
type Runner struct {
	Client *engine.Client
	Copier Copier // for cases with local files; nil fails them
	// Engines, when set, are replicas of the model used instead of Client
	// and Copier, each with Jobs requests in flight (see feed).
	Engines []Engine
	// Down, when set, is asked about an engine after an input failed on it
	// without the engine's answer (see Recovery); nil: such an input is
	// recorded as failed, as any other.
	Down func(ctx context.Context, slot int, err error) Recovery
	Options
	// OnResult is called after each input, one call at a time, once the
	// result is in results.jsonl.
	OnResult func(r *Result, s Summary)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Post, when set, runs after an input's output files are saved (with
	// an output folder); an error fails the input (MaskOptions.Post).
	Post func(ctx context.Context, it *Item, res *Result) error
}

// Summary counts a batch's outcomes.
type Summary struct {
	OK, Failed int
	// Skipped are inputs already answered in results.jsonl (not redone).
	Skipped int
}

// Plan is a batch ready to run: the inputs still to do.
type Plan struct {
	Pending []Item
	Skipped int // already done in an earlier run
	hashes  map[int]string
	folders map[int]string // output folder of each pending input (with an output folder)
	cut     bool           // results.jsonl ends in a cut line
}

// Prepare finds the inputs an earlier run with the same output folder has
// already answered ("ok" lines of results.jsonl, by sha256), unless Force.
// It hashes every input only when there is such a file.
func Prepare(ctx context.Context, items []Item, o Options) (*Plan, error) {
	p := &Plan{Pending: items, hashes: map[int]string{}, folders: map[int]string{}}
	if o.OutDir == "" {
		return p, nil
	}
	if err := CheckOutDir(o.OutDir); err != nil {
		return nil, err
	}
	done, claims, cut, err := readDone(o.OutDir)
	if err != nil {
		var le *OutLinkError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", filepath.Join(o.OutDir, ResultsFile), err)
	}
	p.cut = cut
	folders := assignFolders(items, claims)
	if o.Force || len(done) == 0 {
		for i := range items {
			p.folders[i] = folders[i]
		}
		return p, nil
	}
	hashes := make([]string, len(items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Jobs, 1))
	for i := range items {
		if items[i].Err != nil {
			continue
		}
		g.Go(func() error {
			h, err := hashItem(gctx, &items[i])
			if err != nil {
				return err
			}
			hashes[i] = h
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p.Pending = nil
	for i, it := range items {
		if hashes[i] != "" && done[hashes[i]] {
			p.Skipped++
			continue
		}
		if hashes[i] != "" {
			p.hashes[len(p.Pending)] = hashes[i]
		}
		p.folders[len(p.Pending)] = folders[i]
		p.Pending = append(p.Pending, it)
	}
	return p, nil
}

// HashFile is the hex sha256 of a file's content.
func HashFile(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxio.Reader(ctx, f)); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hashItem identifies an input's content: a file's sha256; for a URL the
// sha256 of the URL; for a case the sha256 of its lines "NAME SHA256\n"
// (each input's own hash), sorted by name.
func hashItem(ctx context.Context, it *Item) (string, error) {
	switch it.Kind {
	case KindFile:
		return HashFile(ctx, it.Path)
	case KindURL:
		return hashString(it.URL), nil
	case KindCase:
		return hashCase(ctx, it.Case)
	}
	return "", fmt.Errorf("%s: %v is not a kind of input", it.Name, it.Kind)
}

// hashCase is a case's hash: the sha256 of its lines "NAME SHA256\n" (each
// input's own hash), sorted by name.
func hashCase(ctx context.Context, files []CaseFile) (string, error) {
	var lines []string
	for _, cf := range files {
		h := hashString(cf.URL)
		if cf.Path != "" {
			var err error
			if h, err = HashFile(ctx, cf.Path); err != nil {
				return "", err
			}
		}
		lines = append(lines, cf.Input+" "+h+"\n")
	}
	sort.Strings(lines)
	return hashString(strings.Join(lines, "")), nil
}

// ErrInterrupted is returned by Run when its context ends before the batch does.
var ErrInterrupted = errors.New("batch interrupted")

// Run sends every pending input, jobs at a time, and records each result as
// it comes: a line appended to results.jsonl, then OnResult. A failed input
// is recorded and the batch goes on. When ctx ends, inputs in flight are
// abandoned without a line (a rerun redoes them) and Run returns what was
// done with an error wrapping ctx's.
func (r *Runner) Run(ctx context.Context, p *Plan) (Summary, error) {
	sum := Summary{Skipped: p.Skipped}
	var log *resultsLog
	if r.OutDir != "" {
		if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
			return sum, err
		}
		var err error
		if log, err = openResults(r.OutDir, p.cut); err != nil {
			return sum, err
		}
		defer log.close()
	}
	results := make(chan *Result)
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	go func() { r.feed(wctx, p, results); close(results) }()
	var writeErr error
	for res := range results {
		if writeErr != nil {
			continue
		}
		if log != nil {
			if err := log.append(res); err != nil {
				writeErr = fmt.Errorf("write %s: %w", filepath.Join(r.OutDir, ResultsFile), err)
				stopWorkers()
				continue
			}
		}
		if res.Status == StatusOK {
			sum.OK++
		} else {
			sum.Failed++
		}
		if r.OnResult != nil {
			r.OnResult(res, sum)
		}
	}
	if writeErr != nil {
		return sum, writeErr
	}
	if ctx.Err() != nil {
		return sum, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	return sum, nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// one predicts on one input (its output files go to folder); nil when ctx
// ended first.
func (r *Runner) one(ctx context.Context, it *Item, knownHash, folder string) *Result {
	res := &Result{Input: it.Name, Source: it.Source(), SHA256: knownHash, Run: r.RunID}
	if r.OutDir != "" {
		if folder == "" {
			folder = ItemFolder(it)
		}
		res.Folder = folder
	}
	if it.Kind == KindCase {
		res.Files = map[string]string{}
		for _, cf := range it.Case {
			res.Files[cf.Input] = cf.Path + cf.URL
			if cf.Source != "" {
				res.Files[cf.Input] = cf.Source // the DICOM series, not its temporary conversion
			}
		}
	}
	res.DICOM = it.Origins
	fail := func(err error) *Result {
		res.Status, res.Error, res.Time = StatusFailed, err.Error(), r.now().UTC()
		res.cause = err
		return res
	}
	if it.Err != nil {
		res = fail(it.Err)
		res.cause = nil // the input's own error: no engine is to blame
		return res
	}
	ictx, cancel := ctx, context.CancelFunc(func() {})
	if r.InputTimeout > 0 {
		ictx, cancel = context.WithTimeout(ctx, r.InputTimeout)
	}
	defer cancel()
	raw, latency, err := r.send(ictx, it, res)
	res.LatencyMS = float64(latency.Microseconds()) / 1000
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ictx.Err() != nil {
			err = fmt.Errorf("no answer within %s (raise --input-timeout if the model needs longer)", r.InputTimeout)
		}
		return fail(err)
	}
	res.Output = raw
	ans, err := engine.ParseAnswer(raw)
	if err != nil {
		return fail(err)
	}
	if r.OutDir != "" {
		used := map[string]bool{}
		for _, f := range r.Client.Files(ans) {
			saved, err := r.save(ictx, folder, f, used)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fail(fmt.Errorf("download output %s (%s): %w", f.Name, f.URL, err))
			}
			res.Saved = append(res.Saved, saved)
		}
		if r.Post != nil {
			err := r.Post(ictx, it, res)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	res.Status, res.Time = StatusOK, r.now().UTC()
	return res
}

// send makes the request for it and fills res.SHA256 if unknown.
func (r *Runner) send(ctx context.Context, it *Item, res *Result) (json.RawMessage, time.Duration, error) {
	switch it.Kind {
	case KindFile:
		return r.sendFile(ctx, it, res)
	case KindURL:
		res.SHA256 = hashString(it.URL)
		start := time.Now()
		raw, err := r.Client.PredictURL(ctx, it.URL)
		return raw, time.Since(start), err
	case KindCase:
		return r.sendCase(ctx, it, res)
	}
	return nil, 0, fmt.Errorf("%v is not a kind of input", it.Kind)
}

// sendFile uploads a file, hashing it on the way when its hash is unknown.
func (r *Runner) sendFile(ctx context.Context, it *Item, res *Result) (json.RawMessage, time.Duration, error) {
	f, err := os.Open(it.Path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	var body io.Reader = f
	var h hash.Hash
	var n countWriter
	if res.SHA256 == "" { // hash while uploading: one read of the file
		h = sha256.New()
		body = io.TeeReader(f, io.MultiWriter(h, &n))
	}
	start := time.Now()
	raw, err := r.Client.PredictReader(ctx, body, st.Size(), filepath.Base(it.Path), it.Type)
	lat := time.Since(start)
	if h != nil {
		if int64(n) == st.Size() {
			res.SHA256 = hex.EncodeToString(h.Sum(nil))
		} else if s, herr := HashFile(ctx, it.Path); herr == nil { // the engine stopped reading early
			res.SHA256 = s
		}
	}
	return raw, lat, err
}

// sendCase sends a case as a JSON file naming its inputs.
func (r *Runner) sendCase(ctx context.Context, it *Item, res *Result) (json.RawMessage, time.Duration, error) {
	if res.SHA256 == "" {
		h, err := hashItem(ctx, it)
		if err != nil {
			return nil, 0, err
		}
		res.SHA256 = h
	}
	doc, cleanup, err := r.caseJSON(ctx, it)
	if err != nil {
		return nil, 0, err
	}
	if cleanup != nil {
		defer cleanup(context.WithoutCancel(ctx))
	}
	start := time.Now()
	raw, err := r.Client.PredictReader(ctx, bytes.NewReader(doc), int64(len(doc)), SafeFileName(it.Name)+".json", filetype.JSON)
	return raw, time.Since(start), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// caseJSON is the engine's multi-input document for a case:
// {"format": ["application/json"], NAME: {"type": [T], "format": [T], "fileurl": P}, ...}
// where P is the file's path in the container (copied there by the Copier)
// or a URL, which the engine downloads itself.
func (r *Runner) caseJSON(ctx context.Context, it *Item) ([]byte, func(context.Context), error) {
	var local []CaseFile
	for _, cf := range it.Case {
		if cf.Path != "" {
			local = append(local, cf)
		}
	}
	var paths map[string]string
	var cleanup func(context.Context)
	if len(local) > 0 {
		if r.Copier == nil {
			return nil, nil, errors.New("cannot give the model local files: no container to copy them into")
		}
		var err error
		paths, cleanup, err = r.Copier.CopyCase(ctx, local)
		if err != nil {
			return nil, nil, fmt.Errorf("copy the case's files into the container: %w", err)
		}
	}
	doc := map[string]any{"format": []string{filetype.JSON}}
	for _, cf := range it.Case {
		ref := cf.URL
		if cf.Path != "" {
			ref = paths[cf.Input]
		}
		doc[cf.Input] = map[string]any{"type": []string{cf.Type}, "format": []string{cf.Type}, "fileurl": ref}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		if cleanup != nil {
			cleanup(ctx)
		}
		return nil, nil, err
	}
	return data, cleanup, nil
}

// SafeFileName makes s a harmless file name (one path component).
func SafeFileName(s string) string {
	b := []rune(s)
	for i, c := range b {
		if c < 0x20 || strings.ContainsRune(`<>:"/\|?*`, c) {
			b[i] = '_'
		}
	}
	out := strings.Trim(string(b), " .")
	if out == "" {
		return "input"
	}
	return out
}

// ItemFolder is the folder (relative to the output folder, slash-separated)
// that receives an input's output files before name clashes are resolved:
// its name without the file's extension (case16.png -> case16, sub/a.nii.gz
// -> sub/a; a case's folder name as it is).
func ItemFolder(it *Item) string {
	name := it.Name
	if it.Kind != KindCase {
		name = stem(name)
	}
	return OutputFolder(name)
}

// stem is name without its extension (.nii.gz counts as one); a name that
// is only an extension, and a repeated name's ~N suffix after it, are kept:
// "a.png~2" -> "a~2".
func stem(name string) string {
	suffix := ""
	if i := strings.LastIndex(name, "~"); i > 0 && i > strings.LastIndex(name, "/") {
		if _, err := fmt.Sscanf(name[i+1:], "%d", new(int)); err == nil {
			name, suffix = name[:i], name[i:]
		}
	}
	dir, base := path.Split(filepath.ToSlash(name))
	if ext := FileExt(base); ext != "" && len(ext) < len(base) {
		base = base[:len(base)-len(ext)]
	}
	return dir + base + suffix
}

// assignFolders gives every item its output folder: its ItemFolder, or
// ItemFolder~2, ~3… when another input already has that folder, in this
// batch (earlier in the list) or in an earlier run (claims: folder -> input
// name, from results.jsonl). Folders are compared ignoring case (macOS and
// Windows). An input keeps the folder an earlier run gave it.
func assignFolders(items []Item, claims map[string]string) map[int]string {
	owner := map[string]string{}
	mine := map[string]string{}
	for f, in := range claims {
		owner[strings.ToLower(f)] = in
		if in != legacyOwner {
			mine[in] = f
		}
	}
	out := map[int]string{}
	for i := range items {
		name := items[i].Name
		if f, ok := mine[name]; ok {
			out[i] = f
			continue
		}
		base := ItemFolder(&items[i])
		f := base
		for k := 2; owner[strings.ToLower(f)] != "" && owner[strings.ToLower(f)] != name; k++ {
			f = fmt.Sprintf("%s~%d", base, k)
		}
		owner[strings.ToLower(f)] = name
		mine[name] = f
		out[i] = f
	}
	return out
}

// OutputFolder is name made a safe relative folder, component by component,
// without anything that could leave the output folder.
func OutputFolder(name string) string {
	var parts []string
	for _, p := range strings.Split(filepath.ToSlash(name), "/") {
		if p == "" || p == "." || p == ".." {
			continue
		}
		parts = append(parts, SafeFileName(p))
	}
	if len(parts) == 0 {
		return "input"
	}
	return strings.Join(parts, "/")
}

// FileExt is the extension of a file name or URL (.nii.gz counts as one).
func FileExt(u string) string { return filetype.Ext(strings.SplitN(u, "?", 2)[0]) }

// save downloads an output file into OUT/<folder>/<output name><ext>
// (two outputs of the same name: the second gets -INDEX), through an os.Root
// so nothing is written outside the output folder, via a .part file renamed
// when complete.
func (r *Runner) save(ctx context.Context, folder string, f engine.OutputURL, used map[string]bool) (SavedFile, error) {
	name := f.Name
	if strings.TrimSpace(name) == "" {
		name = fmt.Sprintf("output-%d", f.Index)
	}
	rel := folder + "/" + SafeFileName(name) + FileExt(f.URL)
	if used[rel] {
		rel = folder + "/" + SafeFileName(fmt.Sprintf("%s-%d", name, f.Index)) + FileExt(f.URL)
	}
	used[rel] = true
	root, err := os.OpenRoot(r.OutDir)
	if err != nil {
		return SavedFile{}, err
	}
	defer root.Close()
	part := rel + ".part"
	if err := checkOut(root, r.OutDir, rel, part); err != nil {
		return SavedFile{}, err
	}
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return SavedFile{}, err
	}
	w, err := root.Create(part)
	if err != nil {
		return SavedFile{}, err
	}
	_, err = r.Client.Download(ctx, f.URL, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(part, rel)
	}
	if err != nil {
		_ = root.Remove(part)
		return SavedFile{}, err
	}
	return SavedFile{Output: f.Name, URL: f.URL, Path: rel}, nil
}
