package predict

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// Kind is what an input is: it decides how the input is identified (hashed),
// sent to the engine and named in results. A new kind of input (a DICOM
// series sent as itself, say) is a new Kind, its constructor and one case in
// each switch on Kind (Item.Source, hashItem, Runner.send, ItemFolder).
type Kind int

const (
	// KindFile is one local file (Item.Path, of type Item.Type), uploaded.
	KindFile Kind = iota + 1
	// KindURL is one input the engine fetches itself (Item.URL, as fileurl).
	KindURL
	// KindCase is one case of a multi-input model (Item.Case: a file or URL
	// per input), sent as a JSON file naming them.
	KindCase
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindURL:
		return "url"
	case KindCase:
		return "case"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Item is one prediction to make: a file, a URL, or a case of a
// multi-input model (see Kind). Make one with FileItem, URLItem or CaseItem.
type Item struct {
	// Name identifies the input in results and names its output folder: a
	// file's path relative to the folder given (or its base name), a URL's
	// last path segment, a case's folder name.
	Name string
	Kind Kind
	Path string     // KindFile: the file (absolute)
	URL  string     // KindURL: passed to the engine as fileurl
	Type string     // KindFile: the detected type of Path
	Case []CaseFile // KindCase: the inputs of one case
	// Err is why a case cannot run (an input missing or of the wrong type);
	// the runner records it as failed without asking the engine.
	Err error
	// Origins name the DICOM series the input (or each case input) was
	// converted from; SourceArg is the DICOM file or folder given.
	Origins   []SeriesOrigin
	SourceArg string
	// series is the DICOM series Path was converted from (for a SEG).
	series *dicom.Series
}

// FileItem is the local file path of media type typ.
func FileItem(name, path, typ string) Item {
	return Item{Name: name, Kind: KindFile, Path: path, Type: typ}
}

// URLItem is the input at url, which the engine fetches.
func URLItem(name, url string) Item { return Item{Name: name, Kind: KindURL, URL: url} }

// CaseItem is one case of a multi-input model.
func CaseItem(name string, files []CaseFile) Item {
	return Item{Name: name, Kind: KindCase, Case: files}
}

// Source is what the item was made from, for results: the DICOM file or
// folder given, a path or a URL; "" for a case (its files are in Result.Files).
func (it *Item) Source() string {
	if it.SourceArg != "" {
		return it.SourceArg
	}
	switch it.Kind {
	case KindFile:
		return it.Path
	case KindURL:
		return it.URL
	}
	return ""
}

// CaseFile is one named input of a case: a local file or a URL.
type CaseFile struct {
	Input string
	Path  string // absolute
	URL   string
	Type  string
	// Source is the DICOM series folder or file Path was converted from.
	Source string
	series *dicom.Series
}

// Skip is a file of a folder that is not an input.
type Skip struct {
	Path   string
	Reason string
}

// Collection is the outcome of Collect.
type Collection struct {
	Items   []Item
	Skipped []Skip
	// Series are the decisions on every DICOM series found (selected or why
	// not); DICOMFiles and HeaderBytes what scanning them read.
	Series      []SeriesDecision
	DICOMFiles  int
	HeaderBytes int64
}

// Request says what to collect.
type Request struct {
	// Args are files, folders, http(s) URLs and "-" (paths on Stdin, one a line).
	Args  []string
	Stdin io.Reader
	// Named are --input NAME=PATH pairs: one case of a multi-input model.
	Named []NamedPath
	// DICOM, when set, turns DICOM files and folders into the model's format
	// (one input or case per selected series); nil leaves them as files.
	DICOM *DICOMOptions
}

// NamedPath is one --input NAME=PATH.
type NamedPath struct{ Name, Path string }

// TypeError is a named file whose type the model does not accept.
type TypeError struct {
	Path     string
	Type     string
	Input    string // the named input, for multi-input models
	Accepted []string
}

func (e *TypeError) Error() string {
	what := "the model accepts"
	if e.Input != "" {
		what = "input " + e.Input + " accepts"
	}
	return fmt.Sprintf("%s is %s, but %s %s", e.Path, e.Type, what, strings.Join(e.Accepted, ", "))
}

// ErrNoInputs means nothing was given or found to predict on.
var ErrNoInputs = errors.New("no inputs")

// IsURL reports whether s is an http(s) URL.
func IsURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Collect turns the request into items, checking every named file's type
// against spec. A missing path or a named file of a type the model does not
// accept is an error; files of a folder that are not inputs are skipped.
func Collect(spec *Spec, req Request) (*Collection, error) {
	c := &collector{spec: spec, seen: map[string]bool{}, names: map[string]int{}, out: &Collection{}, dicom: req.DICOM}
	args, err := expandStdin(req.Args, req.Stdin)
	if err != nil {
		return nil, err
	}
	if req.DICOM != nil && len(req.DICOM.Match) > 0 {
		if err := CheckMatch(spec, req.DICOM.Match); err != nil {
			return nil, err
		}
		if len(req.Named) > 0 {
			return nil, errors.New("--match picks series in case folders; with --input NAME=SERIES_FOLDER each folder is the input's series: give one or the other")
		}
	}
	if spec.Multi() {
		if len(req.Named) > 0 {
			if len(args) > 0 {
				return nil, errors.New("give either --input NAME=PATH (one case) or case folders, not both")
			}
			if err := c.namedCase(req.Named); err != nil {
				return nil, err
			}
		}
		for _, a := range args {
			if err := c.multiArg(a); err != nil {
				return nil, err
			}
		}
	} else {
		if len(req.Named) > 0 {
			return nil, errors.New("--input NAME=PATH is for models with several named inputs; this model takes one file: give it as an argument")
		}
		for _, a := range args {
			if err := c.singleArg(a); err != nil {
				return nil, err
			}
		}
	}
	if len(c.out.Items) == 0 {
		return c.out, ErrNoInputs
	}
	return c.out, nil
}

func expandStdin(args []string, stdin io.Reader) ([]string, error) {
	var out []string
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		if stdin == nil {
			return nil, errors.New("-: no standard input")
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				out = append(out, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read paths from standard input: %w", err)
		}
	}
	return out, nil
}

type collector struct {
	spec  *Spec
	seen  map[string]bool // absolute paths and URLs already collected
	names map[string]int  // item names in use
	out   *Collection
	dicom *DICOMOptions
}

// uniqueName makes name unique among the items (a second "x.png" becomes "x.png~2").
func (c *collector) uniqueName(name string) string {
	key := strings.ToLower(name)
	c.names[key]++
	if n := c.names[key]; n > 1 {
		return fmt.Sprintf("%s~%d", name, n)
	}
	return name
}

func (c *collector) add(it Item) {
	it.Name = c.uniqueName(it.Name)
	c.out.Items = append(c.out.Items, it)
}

func (c *collector) skip(p, reason string) {
	c.out.Skipped = append(c.out.Skipped, Skip{Path: p, Reason: reason})
}

func statArg(a string) (string, fs.FileInfo, error) {
	abs, err := filepath.Abs(a)
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("%s: no such file or folder", a)
		}
		return "", nil, err
	}
	return abs, fi, nil
}

func urlName(u string) string {
	s := u
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "/")
	if b := path.Base(s); b != "" && b != "." && b != "/" && !strings.Contains(b, ":") {
		return b
	}
	return "url"
}

func (c *collector) singleArg(a string) error {
	if IsURL(a) {
		if !c.seen[a] {
			c.seen[a] = true
			c.add(URLItem(urlName(a), a))
		}
		return nil
	}
	abs, fi, err := statArg(a)
	if err != nil {
		return err
	}
	if done, err := c.dicomSingle(a, abs); done || err != nil {
		return err
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", a)
		}
		typ, err := filetype.Detect(abs)
		if err != nil {
			return err
		}
		if !filetype.Accepts(c.spec.Formats, typ) {
			return &TypeError{Path: a, Type: typ, Accepted: c.spec.Formats}
		}
		if !c.seen[abs] {
			c.seen[abs] = true
			c.add(FileItem(filepath.Base(abs), abs, typ))
		}
		return nil
	}
	return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		if d.IsDir() {
			if p != abs && strings.HasPrefix(d.Name(), ".") {
				c.skip(p, "hidden folder")
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			c.skip(p, "hidden file")
			return nil
		}
		fi, err := os.Stat(p) // follows a symbolic link to a file
		if err != nil || !fi.Mode().IsRegular() {
			c.skip(p, "not a regular file")
			return nil
		}
		typ, err := filetype.Detect(p)
		if err != nil {
			return err
		}
		if !filetype.Accepts(c.spec.Formats, typ) {
			c.skip(p, typ+" is not an accepted type")
			return nil
		}
		if !c.seen[p] {
			c.seen[p] = true
			c.add(FileItem(filepath.ToSlash(rel), p, typ))
		}
		return nil
	})
}

// namedCase is --input NAME=PATH ...: one case, checked strictly.
func (c *collector) namedCase(named []NamedPath) error {
	files := map[string]CaseFile{}
	var dirs []string
	var origins []SeriesOrigin
	for _, np := range named {
		in, ok := c.spec.Input(np.Name)
		if !ok {
			return fmt.Errorf("--input %s=%s: the model has no input %q; its inputs are %s", np.Name, np.Path, np.Name, strings.Join(c.spec.Names(), ", "))
		}
		if _, dup := files[in.Name]; dup {
			return fmt.Errorf("--input %s is given twice", in.Name)
		}
		cf, origin, err := c.namedCaseFile(in, np.Path)
		if err != nil {
			return err
		}
		files[in.Name] = cf
		if origin != nil {
			origins = append(origins, *origin)
			dirs = append(dirs, cf.Source)
		} else if cf.Path != "" {
			dirs = append(dirs, filepath.Dir(cf.Path))
		}
	}
	var missing []string
	for _, in := range c.spec.Inputs {
		if _, ok := files[in.Name]; !ok {
			missing = append(missing, in.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing --input for %s: the model needs %s (give --input NAME=PATH for each)", strings.Join(missing, ", "), strings.Join(c.spec.Names(), ", "))
	}
	name := "case"
	if len(dirs) > 0 {
		name = filepath.Base(commonDir(dirs))
	}
	it := CaseItem(name, c.ordered(files))
	it.Origins = origins
	c.add(it)
	return nil
}

// namedCaseFile is one --input NAME=PATH: a DICOM series (converted) or a file.
func (c *collector) namedCaseFile(in NamedInput, p string) (CaseFile, *SeriesOrigin, error) {
	if c.dicom != nil && !IsURL(p) {
		if abs, _, err := statArg(p); err == nil {
			cf, o, done, err := c.dicomCaseFile(in, p, abs)
			if done || err != nil {
				if cf.Source != "" {
					cf.Source, _ = filepath.Abs(cf.Source)
				}
				return cf, o, err
			}
		}
	}
	cf, err := c.caseFile(in, p)
	return cf, nil, err
}

// caseFile checks one input file (or URL) of a case.
func (c *collector) caseFile(in NamedInput, p string) (CaseFile, error) {
	if IsURL(p) {
		return CaseFile{Input: in.Name, URL: p, Type: in.Formats[0]}, nil
	}
	abs, fi, err := statArg(p)
	if err != nil {
		return CaseFile{}, err
	}
	if !fi.Mode().IsRegular() {
		return CaseFile{}, fmt.Errorf("%s: not a regular file", p)
	}
	typ, err := filetype.Detect(abs)
	if err != nil {
		return CaseFile{}, err
	}
	if !filetype.Accepts(in.Formats, typ) {
		return CaseFile{}, &TypeError{Path: p, Type: typ, Input: in.Name, Accepted: in.Formats}
	}
	return CaseFile{Input: in.Name, Path: abs, Type: typ}, nil
}

func (c *collector) ordered(files map[string]CaseFile) []CaseFile {
	var out []CaseFile
	for _, in := range c.spec.Inputs {
		out = append(out, files[in.Name])
	}
	return out
}

func commonDir(dirs []string) string {
	d := dirs[0]
	for _, x := range dirs[1:] {
		for d != x && !strings.HasPrefix(x, d+string(filepath.Separator)) {
			parent := filepath.Dir(d)
			if parent == d {
				return d
			}
			d = parent
		}
	}
	return d
}

// multiArg is a positional argument for a multi-input model: a case JSON, a
// case folder, or a folder of case folders.
func (c *collector) multiArg(a string) error {
	if IsURL(a) {
		return fmt.Errorf("%s: a multi-input model takes cases, not a URL: a folder per case, a case JSON, or --input NAME=URL for each of %s", a, strings.Join(c.spec.Names(), ", "))
	}
	abs, fi, err := statArg(a)
	if err != nil {
		return err
	}
	if done, err := c.dicomMulti(a, abs); done || err != nil {
		return err
	}
	if !fi.IsDir() {
		if filetype.MediaOfName(abs) != filetype.JSON {
			return fmt.Errorf("%s: a multi-input model takes cases: a folder per case, a case JSON (like the model's sample.json), or --input NAME=PATH for each of %s", a, strings.Join(c.spec.Names(), ", "))
		}
		it := c.jsonCase(abs, filetype.Stem(abs))
		if it.Err != nil {
			return fmt.Errorf("%s: %w", a, it.Err)
		}
		if !c.seen[abs] {
			c.seen[abs] = true
			c.add(it)
		}
		return nil
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return err
	}
	var subdirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			subdirs = append(subdirs, e.Name())
		}
	}
	if len(subdirs) == 0 { // the folder is one case
		if !c.seen[abs] {
			c.seen[abs] = true
			c.add(c.folderCase(abs, filepath.Base(abs)))
		}
		return nil
	}
	for _, e := range entries {
		if !e.IsDir() {
			c.skip(filepath.Join(abs, e.Name()), "not in a case folder")
		} else if strings.HasPrefix(e.Name(), ".") {
			c.skip(filepath.Join(abs, e.Name()), "hidden folder")
		}
	}
	sort.Strings(subdirs)
	for _, s := range subdirs {
		p := filepath.Join(abs, s)
		if !c.seen[p] {
			c.seen[p] = true
			c.add(c.folderCase(p, s))
		}
	}
	return nil
}

// folderCase matches the files of a case folder to the inputs: a single
// .json file is the case's JSON; otherwise each input takes the file whose
// stem is its name (t1.nii.gz -> t1) or ends with _NAME, -NAME or .NAME
// (BraTS19_001_t1.nii.gz -> t1), ignoring case.
func (c *collector) folderCase(dir, name string) Item {
	it := CaseItem(name, nil)
	entries, err := os.ReadDir(dir)
	if err != nil {
		it.Err = err
		return it
	}
	var files, jsons []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, p)
		if strings.EqualFold(filepath.Ext(p), ".json") {
			jsons = append(jsons, p)
		}
	}
	if len(jsons) == 1 {
		return c.jsonCase(jsons[0], name)
	}
	exact := map[string][]string{}
	suffix := map[string][]string{}
	for _, f := range files {
		stem := strings.ToLower(filetype.Stem(f))
		for _, in := range c.spec.Inputs {
			n := strings.ToLower(in.Name)
			switch {
			case stem == n:
				exact[in.Name] = append(exact[in.Name], f)
			case strings.HasSuffix(stem, "_"+n), strings.HasSuffix(stem, "-"+n), strings.HasSuffix(stem, "."+n):
				suffix[in.Name] = append(suffix[in.Name], f)
			}
		}
	}
	got := map[string]CaseFile{}
	used := map[string]bool{}
	var problems []string
	for _, in := range c.spec.Inputs {
		cands := exact[in.Name]
		if len(cands) == 0 {
			cands = suffix[in.Name]
		}
		switch len(cands) {
		case 0:
			problems = append(problems, "no file for input "+in.Name)
			continue
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("input %s matches %d files (%s)", in.Name, len(cands), baseNames(cands)))
			continue
		}
		typ, err := filetype.Detect(cands[0])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !filetype.Accepts(in.Formats, typ) {
			problems = append(problems, (&TypeError{Path: filepath.Base(cands[0]), Type: typ, Input: in.Name, Accepted: in.Formats}).Error())
			continue
		}
		got[in.Name] = CaseFile{Input: in.Name, Path: cands[0], Type: typ}
		used[cands[0]] = true
	}
	for _, f := range files {
		if !used[f] {
			c.skip(f, "matches no input")
		}
	}
	if len(problems) > 0 {
		it.Err = fmt.Errorf("case %s: %s (name each file after its input: %s)", name, strings.Join(problems, "; "), strings.Join(c.spec.Names(), ", "))
		return it
	}
	it.Case = c.ordered(got)
	return it
}

func baseNames(ps []string) string {
	var b []string
	for _, p := range ps {
		b = append(b, filepath.Base(p))
	}
	return strings.Join(b, ", ")
}

// jsonCase reads a case JSON such as a model's sample.json:
// {"t1": {"fileurl": "t1.nii.gz"}, ...}; a relative fileurl is relative to
// the JSON file's folder, an http(s) one is passed to the engine.
func (c *collector) jsonCase(p, name string) Item {
	it := CaseItem(name, nil)
	data, err := os.ReadFile(p)
	if err != nil {
		it.Err = err
		return it
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		it.Err = fmt.Errorf("case JSON %s: %v", filepath.Base(p), err)
		return it
	}
	got := map[string]CaseFile{}
	var problems []string
	for _, in := range c.spec.Inputs {
		raw, ok := doc[in.Name]
		if !ok {
			problems = append(problems, "no entry for input "+in.Name)
			continue
		}
		var e struct {
			FileURL string `json:"fileurl"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || strings.TrimSpace(e.FileURL) == "" {
			problems = append(problems, "input "+in.Name+" has no fileurl")
			continue
		}
		ref := e.FileURL
		if !IsURL(ref) && !filepath.IsAbs(ref) {
			ref = filepath.Join(filepath.Dir(p), filepath.FromSlash(ref))
		}
		cf, err := c.caseFile(in, ref)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		got[in.Name] = cf
	}
	if len(problems) > 0 {
		it.Err = fmt.Errorf("case %s (%s): %s", name, filepath.Base(p), strings.Join(problems, "; "))
		return it
	}
	it.Case = c.ordered(got)
	return it
}
