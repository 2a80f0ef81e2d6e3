// Package scaffold creates a new model folder from the model template: a clone of a
// template repository (git history dropped) or the minimal template embedded here.
package scaffold

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

//go:embed all:template
var embedded embed.FS

// DefaultTemplateURL is the public model template repository.
const DefaultTemplateURL = "https://github.com/modelhub-ai/model-template.git"

// ConfigPath is where a model folder keeps its config.json.
const ConfigPath = config.ConfigPath

var (
	// ErrExists is returned when the target folder already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalidName is returned for a name that cannot be a model folder name.
	ErrInvalidName = errors.New("invalid model name")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidName checks that name can be a model (and folder) name.
func ValidName(name string) error {
	// a trailing dot: the index would skip the name (and Windows drops it from folder names)
	if !nameRE.MatchString(name) || strings.Contains(name, "..") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("%w %q: use letters, digits, '-', '_' and '.', starting with a letter or digit, with no \"..\" and no dot at the end, e.g. my-model", ErrInvalidName, name)
	}
	if safepath.IsReserved(name) {
		return fmt.Errorf("%w %q: it is a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, also with an extension), which no folder can be called there; e.g. my-model", ErrInvalidName, name)
	}
	return nil
}

// Options configure New.
type Options struct {
	// Name of the model: the folder name and meta.name.
	Name string
	// Dir is the parent folder ("" = current directory).
	Dir string
	// TemplateURL is cloned (depth 1) when Offline is false; "" means DefaultTemplateURL.
	TemplateURL string
	// Offline skips the clone and uses the embedded template.
	Offline bool
	// Clone clones url into dir; nil uses fetch.Clone. Tests may replace it.
	Clone func(ctx context.Context, url, dir string) error
	// OnClone, when set, is called just before the template is cloned.
	OnClone func(url string)
	// NewID returns the model's id; nil uses a random UUID.
	NewID func() string
}

// Result says what New created.
type Result struct {
	Path string `json:"path"`
	ID   string `json:"id"`
	// Source is the template URL, or "embedded".
	Source string `json:"source"`
	// CloneError is why the clone failed when New fell back to the embedded template.
	CloneError string `json:"clone_error,omitempty"`
}

// EmbeddedSource is Result.Source for the embedded template.
const EmbeddedSource = "embedded"

// New creates Dir/Name from the template and fills meta.name and a fresh id in its
// config.json. It never overwrites: an existing target is ErrExists. The folder is
// assembled next to the target and renamed into place, so a failure leaves nothing behind.
func New(ctx context.Context, opts Options) (*Result, error) {
	if err := ValidName(opts.Name); err != nil {
		return nil, err
	}
	if opts.TemplateURL == "" {
		opts.TemplateURL = DefaultTemplateURL
	}
	if opts.Clone == nil {
		opts.Clone = gitClone
	}
	if opts.NewID == nil {
		opts.NewID = func() string { return uuid.NewString() }
	}
	parent := opts.Dir
	if parent == "" {
		parent = "."
	}
	target := filepath.Join(parent, opts.Name)
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("create %s: %w (choose another name or remove it first)", target, ErrExists)
	}
	tmp, err := os.MkdirTemp(parent, "."+opts.Name+".new-")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, opts.Name)

	res := &Result{Path: target, ID: opts.NewID(), Source: EmbeddedSource}
	if !opts.Offline {
		if opts.OnClone != nil {
			opts.OnClone(opts.TemplateURL)
		}
		if err := opts.Clone(ctx, opts.TemplateURL, work); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.CloneError = err.Error()
			os.RemoveAll(work)
		} else if err := checkNoLinks(work); err != nil {
			// a hostile template is refused, not replaced by the built-in one
			return nil, fmt.Errorf("template %s: %w; nothing was created", opts.TemplateURL, err)
		} else if err := checkLayout(work); err != nil {
			res.CloneError = err.Error()
			os.RemoveAll(work)
		} else {
			res.Source = opts.TemplateURL
			if err := os.RemoveAll(filepath.Join(work, ".git")); err != nil {
				return nil, fmt.Errorf("drop the template's git history: %w", err)
			}
		}
	}
	if res.Source == EmbeddedSource {
		if err := writeEmbedded(work); err != nil {
			return nil, fmt.Errorf("create %s: %w", target, err)
		}
	}
	// config.json is read and rewritten through a root confined to the new
	// folder, after checking that no link is on its path.
	root, err := os.OpenRoot(work)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	defer root.Close()
	if err := safepath.CheckLinks(root, ConfigPath); err != nil {
		return nil, fmt.Errorf("template %s: %w; nothing was created", opts.TemplateURL, err)
	}
	if fi, err := root.Lstat(ConfigPath); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("template has no %s (a regular file)", ConfigPath)
	}
	data, err := root.ReadFile(ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("template has no %s: %w", ConfigPath, err)
	}
	data, err = FillConfig(data, opts.Name, res.ID)
	if err != nil {
		return nil, fmt.Errorf("fill %s: %w", ConfigPath, err)
	}
	if err := root.WriteFile(ConfigPath, data, 0o644); err != nil {
		return nil, err
	}
	// Rename refuses to replace a non-empty directory; a target created meanwhile wins.
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("create %s: %w (choose another name or remove it first)", target, ErrExists)
	}
	if err := os.Rename(work, target); err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	return res, nil
}

// checkNoLinks refuses a cloned template holding a symbolic link (or another
// special file) anywhere but in its .git: a new model is plain files, and
// modelhub rewrites the template's config.json, which must not lead out of
// the new folder.
func checkNoLinks(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ".git" && d.IsDir() {
			return fs.SkipDir
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			return fmt.Errorf("%q is a symbolic link to %q: a template must hold plain files and folders only", rel, target)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%q is not a regular file or folder: a template must hold plain files and folders only", rel)
		}
		return nil
	})
}

// checkLayout verifies that a cloned template looks like a model template.
func checkLayout(dir string) error {
	for _, p := range []string{config.InitPath, ConfigPath} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			return fmt.Errorf("the cloned template has no %s", p)
		}
	}
	return nil
}

// gitClone clones the template's default branch, depth 1, through fetch (the
// one owner of go-git).
func gitClone(ctx context.Context, url, dir string) error {
	_, err := fetch.Clone(ctx, fetch.CloneOptions{URL: url, Dir: dir, Origin: "the --template URL"})
	return err
}

// writeEmbedded copies the embedded template into dir.
func writeEmbedded(dir string) error {
	sub, err := fs.Sub(embedded, "template")
	if err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		in, err := sub.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// FillConfig sets "id" and "meta"."name" in a config.json, keeping the rest of the file
// byte for byte (key order, indentation). When a key is missing or not a string, the
// document is rewritten as indented JSON with the values set.
func FillConfig(data []byte, name, id string) ([]byte, error) {
	if err := config.CheckDepth(data); err != nil {
		return nil, err
	}
	out, err := replaceString(data, []string{"id"}, id)
	if err == nil {
		out, err = replaceString(out, []string{"meta", "name"}, name)
	}
	if err == nil {
		return out, nil
	}
	var doc map[string]any
	if jerr := json.Unmarshal(data, &doc); jerr != nil {
		return nil, fmt.Errorf("not a JSON object: %w", jerr)
	}
	doc["id"] = id
	meta, _ := doc["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		doc["meta"] = meta
	}
	meta["name"] = name
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var errNotFound = errors.New("key not found")

// replaceString replaces the string value at the object key path with value.
func replaceString(data []byte, path []string, value string) ([]byte, error) {
	start, end, err := findValue(data, path)
	if err != nil {
		return nil, err
	}
	if data[start] != '"' {
		return nil, fmt.Errorf("%s is not a string", strings.Join(path, "."))
	}
	enc, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(data[:start])
	b.Write(enc)
	b.Write(data[end:])
	return b.Bytes(), nil
}

// findValue returns the byte span of the value at an object key path.
func findValue(data []byte, path []string) (int, int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var start, end int
	var walk func(depth int, match bool) error
	// walk consumes one value; match says whether the keys so far equal path[:depth].
	walk = func(depth int, match bool) error {
		if match && depth == len(path) {
			start = int(dec.InputOffset())
			for start < len(data) && (data[start] == ' ' || data[start] == '\t' || data[start] == '\n' || data[start] == '\r' || data[start] == ':' || data[start] == ',') {
				start++
			}
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if err := walk(depth+1, match && depth < len(path) && k == path[depth]); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if err := walk(depth+1, false); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		if match && depth == len(path) {
			end = int(dec.InputOffset())
		}
		return err
	}
	if err := walk(0, true); err != nil {
		return 0, 0, err
	}
	if end == 0 {
		return 0, 0, fmt.Errorf("%s: %w", strings.Join(path, "."), errNotFound)
	}
	return start, end, nil
}
