// Package bundle writes and reads modelhub bundles: one file that carries
// downloaded models and the Docker images they need to a machine without
// network (`modelhub save` and `modelhub load`). It never prints; progress
// goes through callbacks and failures through typed errors.
//
// A bundle is a tar archive, optionally compressed as a whole with zstd or
// gzip. Its entries, in this order:
//
//	modelhub-bundle.json   the bundle manifest (Manifest), padded with spaces
//	models/NAME/...        each model folder as pull leaves it (directories
//	                       and regular files only, .modelhub/manifest.json included)
//	images.tar             one `docker save` of every image the models need
//
// The manifest lists every other entry with its size and sha256 in archive
// order, so a reader verifies each one while streaming it.
package bundle

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/registry"
)

// Format is the value of Manifest.Format.
const Format = "modelhub-bundle"

// FormatVersion is the version of the bundle format this package writes and
// the newest it reads.
const FormatVersion = 1

// ManifestName is the name of the first entry of every bundle.
const ManifestName = "modelhub-bundle.json"

// ImagesName is the entry holding the image export.
const ImagesName = "images.tar"

// modelsDir is the folder of the model entries.
const modelsDir = "models"

// maxManifestSize bounds the manifest a reader accepts (it is held in memory).
const maxManifestSize = 32 << 20

// Manifest is the first entry of a bundle.
type Manifest struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Created is when the bundle was written, Modelhub the version that wrote it.
	Created  time.Time `json:"created"`
	Modelhub string    `json:"modelhub_version,omitempty"`
	Models   []Model   `json:"models"`
	Images   []Image   `json:"images"`
	// Entries are every entry after the manifest, in archive order.
	Entries []Entry `json:"entries"`
}

// Model is one model of a bundle.
type Model struct {
	Name string `json:"name"`
	// Entry is the index entry the model was pulled from.
	Entry registry.Entry `json:"entry"`
	// Commit is the git commit of the model folder.
	Commit   string `json:"commit"`
	DockerID string `json:"docker_id"`
	// Files and Size count the model's file entries.
	Files int   `json:"files"`
	Size  int64 `json:"size"`
}

// Image is one Docker image of a bundle.
type Image struct {
	// Ref is the name the models use (init.json's docker_id).
	Ref string `json:"ref"`
	// ID is the image's ID (sha256:... of its configuration).
	ID string `json:"id"`
	// Digests are the registry digests known where it was saved (none for
	// an image built locally).
	Digests []string `json:"digests,omitempty"`
	Size    int64    `json:"size"`
}

// Entry types.
const (
	TypeFile = "file"
	TypeDir  = "dir"
)

// Entry is one archive entry after the manifest.
type Entry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode is the permission bits: 0644 or 0755 for files, 0755 for folders.
	Mode   uint32 `json:"mode"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Errors callers can test with errors.Is.
var (
	// ErrNotBundle: the file is not a modelhub bundle at all.
	ErrNotBundle = errors.New("not a modelhub bundle")
	// ErrDamaged: truncated, or an entry does not match the manifest.
	ErrDamaged = errors.New("bundle is damaged")
	// ErrNewerFormat: written by a newer modelhub.
	ErrNewerFormat = errors.New("bundle format is newer than this modelhub")
	// ErrUnsafe: an entry could write outside its folder or is not a plain file or folder.
	ErrUnsafe = errors.New("bundle holds an unsafe entry")
	// ErrConflict: a different version of a model is installed.
	ErrConflict = errors.New("a different version is installed")
	// ErrExists: save's output file exists.
	ErrExists = errors.New("file exists")
)

// ModelPath is the archive folder of model name.
func ModelPath(name string) string { return modelsDir + "/" + name }

// checkName refuses an entry name that could leave the folder it is
// extracted into: absolute, with a volume, backslashes, `..`, empty or `.`
// components, or control characters.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.HasPrefix(name, "/"), len(name) > 1 && name[1] == ':':
		return errors.New("absolute path")
	case strings.Contains(name, "\\"):
		return errors.New("backslash in the path")
	}
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "..":
			return errors.New("path goes up with ..")
		case "", ".":
			return errors.New("path is not clean")
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("control character in the path")
		}
	}
	if path.Clean(name) != name {
		return errors.New("path is not clean")
	}
	return nil
}

// check validates a manifest read from a bundle: format, version, names,
// and that every entry belongs to a listed model or is the image export
// (last), with no duplicates, ignoring case.
func (m *Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("%w: its first entry is not a bundle manifest (format %q)", ErrNotBundle, m.Format)
	}
	if m.Version > FormatVersion {
		return fmt.Errorf("%w: version %d, this modelhub reads up to %d; upgrade modelhub to load it", ErrNewerFormat, m.Version, FormatVersion)
	}
	if m.Version < 1 {
		return fmt.Errorf("%w: invalid format version %d", ErrNotBundle, m.Version)
	}
	models, lower := map[string]bool{}, map[string]bool{}
	for _, md := range m.Models {
		if err := registry.CheckName(md.Name); err != nil {
			return fmt.Errorf("%w: model name %q: %v", ErrUnsafe, md.Name, err)
		}
		if lower[strings.ToLower(md.Name)] {
			return fmt.Errorf("%w: model %s is listed twice", ErrUnsafe, md.Name)
		}
		models[md.Name], lower[strings.ToLower(md.Name)] = true, true
	}
	seen := map[string]bool{}
	for i, e := range m.Entries {
		if err := checkName(e.Path); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrUnsafe, e.Path, err)
		}
		low := strings.ToLower(e.Path)
		if seen[low] {
			return fmt.Errorf("%w: %q appears twice", ErrUnsafe, e.Path)
		}
		seen[low] = true
		if e.Path == ImagesName {
			if i != len(m.Entries)-1 || e.Type != TypeFile {
				return fmt.Errorf("%w: %s is not the last entry", ErrDamaged, ImagesName)
			}
			continue
		}
		parts := strings.SplitN(e.Path, "/", 3)
		if len(parts) < 3 || parts[0] != modelsDir || !models[parts[1]] {
			return fmt.Errorf("%w: %q is not inside a listed model's folder", ErrUnsafe, e.Path)
		}
		if e.Type != TypeFile && e.Type != TypeDir {
			return fmt.Errorf("%w: %q has type %q (bundles hold only files and folders)", ErrUnsafe, e.Path, e.Type)
		}
		if e.Size < 0 {
			return fmt.Errorf("%w: %q has a negative size", ErrDamaged, e.Path)
		}
	}
	// Only the images of the listed models, by ID and name: load tags them.
	dockerIDs := map[string]bool{}
	for _, md := range m.Models {
		dockerIDs[md.DockerID] = true
	}
	refs := map[string]bool{}
	for _, im := range m.Images {
		k, err := refKey(im.Ref)
		if err != nil {
			return fmt.Errorf("%w: image %q is not a valid image name", ErrUnsafe, im.Ref)
		}
		if !dockerIDs[im.Ref] {
			return fmt.Errorf("%w: image %q is not the image of a listed model", ErrUnsafe, im.Ref)
		}
		if refs[k] {
			return fmt.Errorf("%w: image %q is listed twice", ErrUnsafe, im.Ref)
		}
		refs[k] = true
		if !strings.HasPrefix(im.ID, "sha256:") || !hexRE.MatchString(im.ID[7:]) {
			return fmt.Errorf("%w: image %q has an invalid ID %q", ErrUnsafe, im.Ref, im.ID)
		}
	}
	if len(m.Images) > 0 && (len(m.Entries) == 0 || m.Entries[len(m.Entries)-1].Path != ImagesName) {
		return fmt.Errorf("%w: images are listed but %s is not", ErrDamaged, ImagesName)
	}
	return nil
}
