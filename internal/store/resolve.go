package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/notebook"
	"github.com/modelhub-ai/modelhub/internal/registry"
)

// Store manages the models under Home/models.
type Store struct {
	// Home is the data folder; models live in Home/models/NAME.
	Home string
	// Index returns the model index. It is called only when a name is not
	// already downloaded (or on update), so a downloaded model needs no
	// index and no network.
	Index func(ctx context.Context) (*registry.Index, error)
	// Reclaim, when set, gives back files another user wrote in a model
	// folder (root, in a model container) before Remove or an update
	// replaces it; without it such files make them fail before any change.
	Reclaim Reclaimer
	// Net bounds the clones, listings and downloads of Pull (zero fields:
	// fetch's defaults).
	Net fetch.Timeouts
}

// Model is a resolved MODEL argument.
type Model struct {
	// Name is the canonical name (from the index or manifest), or the folder
	// name of a local model.
	Name string
	// Dir is the model folder.
	Dir string
	// Local is true for a folder used in place (a path, or a folder in the
	// current directory holding init/init.json); it is never fetched.
	Local bool
	// Entry is the index entry (nil for a local model).
	Entry *registry.Entry
	// Index is where Entry was found (IndexSource), when it was looked up.
	Index string
	// Manifest is the model's manifest when it is downloaded completely.
	Manifest *Manifest
}

// Complete reports whether the model is ready to use: a local folder, or a
// downloaded model with a complete manifest.
func (m *Model) Complete() bool {
	return m.Local || (m.Manifest != nil && m.Manifest.Complete)
}

// ModelsDir is Home/models.
func (s *Store) ModelsDir() string { return filepath.Join(s.Home, "models") }

// IsPath reports whether ref names a path rather than a model name: it
// contains a path separator or starts with ".".
func IsPath(ref string) bool {
	return strings.HasPrefix(ref, ".") || strings.ContainsRune(ref, '/') || strings.ContainsRune(ref, filepath.Separator)
}

// ErrNotModelFolder: a path given as MODEL has no init/init.json.
var ErrNotModelFolder = errors.New("not a model folder")

// Resolve turns a MODEL argument into a Model:
//   - a path, or a folder in the current directory holding init/init.json: a
//     local model used in place;
//   - a name of a completely downloaded model under Home/models (ignoring
//     case), read from its manifest: no index needed;
//   - otherwise the index entry of that name (ignoring case), at
//     Home/models/NAME with the index's spelling.
func (s *Store) Resolve(ctx context.Context, ref string) (*Model, error) {
	if ref == "" {
		return nil, errors.New("empty model name")
	}
	if IsPath(ref) {
		return localModel(ref)
	}
	if fi, err := os.Stat(filepath.Join(ref, filepath.FromSlash(config.InitPath))); err == nil && fi.Mode().IsRegular() {
		return localModel(ref)
	}
	if err := registry.CheckName(ref); err != nil {
		return nil, fmt.Errorf("%q is not a model name: %w", ref, err)
	}
	if m := s.findDownloaded(ref); m != nil {
		return m, nil
	}
	if s.Index == nil {
		return nil, fmt.Errorf("model %q is not downloaded and no index is available", ref)
	}
	ix, err := s.Index(ctx)
	if err != nil {
		return nil, err
	}
	e, err := ix.Lookup(ref)
	if err != nil {
		return nil, err
	}
	entry := *e
	m := &Model{Name: entry.Name, Dir: filepath.Join(s.ModelsDir(), entry.Name), Entry: &entry, Index: IndexSource(ix)}
	if man, err := ReadManifest(m.Dir); err == nil && man.Complete {
		m.Manifest = man
	}
	return m, nil
}

func localModel(ref string) (*Model, error) {
	dir, err := filepath.Abs(ref)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: no such folder (a MODEL that contains a path separator or starts with \".\" is a local model folder; give a name from `modelhub list` to download one)", ref, ErrNotModelFolder)
	}
	if err != nil {
		return nil, fmt.Errorf("model folder %s: %w", ref, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a model folder", ref)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(config.InitPath))); err != nil {
		return nil, fmt.Errorf("%s: %w: it has no %s", ref, ErrNotModelFolder, config.InitPath)
	}
	return &Model{Name: filepath.Base(dir), Dir: dir, Local: true}, nil
}

// findDownloaded returns the complete downloaded model named ref (ignoring case).
func (s *Store) findDownloaded(ref string) *Model {
	ents, err := os.ReadDir(s.ModelsDir())
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.EqualFold(e.Name(), ref) {
			continue
		}
		dir := filepath.Join(s.ModelsDir(), e.Name())
		man, err := ReadManifest(dir)
		if err != nil || !man.Complete {
			continue
		}
		entry := man.Entry
		name := entry.Name
		if name == "" {
			name = e.Name()
		}
		return &Model{Name: name, Dir: dir, Entry: &entry, Manifest: man}
	}
	return nil
}

// Downloaded lists the models under Home/models, complete or not (a folder
// left by an interrupted pull counts), sorted by name.
func (s *Store) Downloaded() []string {
	ents, err := os.ReadDir(s.ModelsDir())
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	return names
}

// IsNotebook reports whether the model is a notebook (a Google Colab
// notebook, not a Docker model): its index entry's backend is "colab", its
// manifest says so, or its config.json has meta.colab_link.
func (m *Model) IsNotebook() bool {
	switch {
	case m.Manifest != nil:
		return m.Manifest.Notebook || notebook.IsEntry(&m.Manifest.Entry)
	case m.Entry != nil:
		return notebook.IsEntry(m.Entry)
	}
	return notebook.IsFolder(m.Dir)
}

// IndexSource names where ix came from so that another machine can find it
// again: its URL (without a user:password, which no manifest keeps), or the
// absolute path of a local models.json.
func IndexSource(ix *registry.Index) string {
	if ix == nil {
		return ""
	}
	src := ix.Location
	if src == "" {
		src = ix.Source
	}
	if src == "" {
		return ""
	}
	if registry.IsRemote(src) || strings.HasPrefix(src, "file://") {
		if u, err := url.Parse(src); err == nil && u.User != nil {
			u.User = nil
			return u.String()
		}
		return src
	}
	if abs, err := filepath.Abs(src); err == nil {
		return abs
	}
	return src
}
