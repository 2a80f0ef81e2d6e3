package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/jsonpos"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// The layout of a model folder, relative to its root (slash-separated).
const (
	// InitPath is where a model folder keeps its init file.
	InitPath = "init/init.json"
	// ContribSrc is the folder mounted into the model's container.
	ContribSrc = safepath.ContribSrc
	// ConfigPath is the model's config.json.
	ConfigPath = ContribSrc + "/model/config.json"
)

// Init is a model repository's init/init.json.
type Init struct {
	// DockerID names the image the model runs in.
	DockerID string `json:"docker_id"`
	// Files are the large files fetched from outside the repository.
	Files []ExternalFile `json:"external_contrib_files"`
}

// ExternalFile is one entry of external_contrib_files.
type ExternalFile struct {
	SrcURL string `json:"src_url"`
	// Dest is relative to the model folder, with or without a leading "/".
	Dest string `json:"dest_file_path"`
	// SHA256 is optional (a modelhub extension): the expected hex digest.
	SHA256 string `json:"sha256,omitempty"`
}

// ErrPlaceholder reports an init.json that still holds the model template's text.
var ErrPlaceholder = errors.New("init.json is not filled in")

// InitError is a problem with one part of an init.json.
type InitError struct {
	Field string // e.g. "docker_id" or "external_contrib_files[1].dest_file_path"
	Err   error
}

func (e *InitError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *InitError) Unwrap() error { return e.Err }

// ParseInit decodes an init.json. It checks syntax and types only; Check validates the values.
func ParseInit(data []byte) (*Init, error) {
	var in Init
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&in); err != nil {
		return nil, describeJSONError(data, err)
	}
	return &in, nil
}

// LoadInit reads and parses MODELDIR/init/init.json.
func LoadInit(modelDir string) (*Init, error) {
	p := filepath.Join(modelDir, filepath.FromSlash(InitPath))
	data, err := ReadRegularFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: a model folder needs init/init.json", p)
		}
		return nil, err
	}
	in, err := ParseInit(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return in, nil
}

// Problems lists everything wrong with the init file for a model folder at modelDir,
// each as an *InitError. An empty list means the file is usable.
func (in *Init) Problems(modelDir string) []error {
	var errs []error
	add := func(field string, err error) { errs = append(errs, &InitError{Field: field, Err: err}) }
	switch {
	case strings.TrimSpace(in.DockerID) == "":
		add("docker_id", errors.New("is empty: name the model's Docker image"))
	case IsPlaceholder(in.DockerID):
		add("docker_id", fmt.Errorf("%w: %q is the template's placeholder, name the model's Docker image", ErrPlaceholder, in.DockerID))
	case strings.ContainsAny(in.DockerID, " \t\n"):
		add("docker_id", fmt.Errorf("%q is not an image name", in.DockerID))
	}
	seen := map[string]int{} // safepath.Keys of the files already written
	for i, f := range in.Files {
		field := fmt.Sprintf("external_contrib_files[%d]", i)
		if IsPlaceholder(f.SrcURL) || IsPlaceholder(f.Dest) {
			add(field, fmt.Errorf("%w: replace the template's example entry, or make external_contrib_files an empty list", ErrPlaceholder))
			continue
		}
		if err := checkSrcURL(f.SrcURL); err != nil {
			add(field+".src_url", err)
		}
		if full, err := SafeDest(modelDir, f.Dest); err != nil {
			add(field+".dest_file_path", err)
		} else if err := destClash(modelDir, full, i, seen); err != nil {
			add(field+".dest_file_path", fmt.Errorf("%q %w", f.Dest, err))
		}
		if f.SHA256 != "" && !isHexDigest(f.SHA256) {
			add(field+".sha256", fmt.Errorf("%q is not a 64-digit hex sha256", f.SHA256))
		}
	}
	return errs
}

// Check returns the problems of Problems as one error on one line, naming the
// file, or nil.
func (in *Init) Check(modelDir string) error {
	probs := in.Problems(modelDir)
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("init/init.json: %w", problems(probs))
}

// problems joins errors like errors.Join (errors.Is/As see each one) but on
// one line: the CLI prints an error as a single `modelhub: ...` line.
type problems []error

func (p problems) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p problems) Unwrap() []error { return p }

func checkSrcURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IsPlaceholder reports whether s is text of the model template rather than a real value.
func IsPlaceholder(s string) bool {
	u := strings.ToUpper(s)
	return strings.Contains(u, "YOUR ") || strings.HasPrefix(strings.ToLower(s), "e.g.") ||
		strings.Contains(u, "IF YOU DON'T NEED") || strings.TrimSpace(s) == "..."
}

// ErrUnsafePath reports a destination modelhub refuses to write: it leaves the
// model folder, breaks the naming rules of a platform modelhub ships on, or
// goes through a link the repository carries (see package safepath).
var ErrUnsafePath = safepath.ErrUnsafe

// SafeDest resolves an init.json dest_file_path against modelDir. The path is relative
// to the model folder whether or not it starts with "/". It fails for an empty path, a
// path that leaves the folder, a segment some platform cannot name (see
// safepath.CheckRel), and when the file, one of its existing parent folders, or
// the .part and sidecar files a download writes beside it is a symbolic link
// (or another special file) in the model folder.
func SafeDest(modelDir, dest string) (string, error) {
	d := strings.TrimSpace(dest)
	if d == "" {
		return "", errors.New("is empty")
	}
	rel, err := safepath.CheckRel(d)
	if err != nil {
		return "", fmt.Errorf("%q: %w", dest, err)
	}
	root, err := filepath.Abs(modelDir)
	if err != nil {
		return "", err
	}
	full := filepath.Join(root, filepath.FromSlash(rel))
	r, err := os.OpenRoot(root)
	if errors.Is(err, os.ErrNotExist) {
		return full, nil
	}
	if err != nil {
		return "", err
	}
	defer r.Close()
	if err := safepath.CheckWrite(r, rel); err != nil {
		return "", fmt.Errorf("%q: %w", dest, err)
	}
	if fi, err := r.Lstat(rel); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%q is a folder of the model, not a file: name the file to write (e.g. %s/weights.bin)", dest, rel)
	}
	return full, nil
}

// destClash rejects a destination inside the clone's .git or modelhub's own
// .modelhub folder, and one an earlier entry (index < i, in seen) already
// writes, comparing names as the platforms do (safepath.Key); a destination
// that is another's .part or sidecar file clashes too.
func destClash(modelDir, full string, i int, seen map[string]int) error {
	root, err := filepath.Abs(modelDir)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, full)
	if err != nil {
		return err
	}
	key := safepath.Key(filepath.ToSlash(rel))
	if first := safepath.First(key); first == ".git" || first == ".modelhub" {
		return fmt.Errorf("writes into %s, which belongs to git/modelhub: put the file under contrib_src/", safepath.First(filepath.ToSlash(rel)))
	}
	for _, k := range safepath.Beside(key) {
		if j, ok := seen[k]; ok {
			return fmt.Errorf("is also written by external_contrib_files[%d]: give each file its own path", j)
		}
	}
	for _, k := range safepath.Beside(key)[1:] {
		if _, ok := seen[k]; !ok {
			seen[k] = i
		}
	}
	if _, ok := seen[key]; !ok {
		seen[key] = i
	}
	return nil
}

// describeJSONError turns a decoding error into one naming the line and column.
func describeJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	// The decoder's Offset counts the bytes read, the offending one included:
	// that byte is at Offset-1.
	case errors.As(err, &se):
		off := max(se.Offset-1, 0)
		line, col := jsonpos.LineCol(data, off)
		return fmt.Errorf("invalid JSON at line %d, column %d (byte %d): %v", line, col, off, se)
	case errors.As(err, &te):
		line, col := jsonpos.LineCol(data, max(te.Offset-1, 0))
		return fmt.Errorf("line %d, column %d: %s must be %s, not %s", line, col, te.Field, te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty file: expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := jsonpos.LineCol(data, int64(len(data)))
		return fmt.Errorf("invalid JSON: the file ends at line %d, column %d before its brackets and braces are closed", line, col)
	}
	return err
}
