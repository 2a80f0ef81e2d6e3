// Package store keeps downloaded models under HOME/models/NAME.
package store

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelhub-ai/modelhub/internal/config"
)

// ManifestPath is where a downloaded model records where it came from, relative to its folder.
const ManifestPath = ".modelhub/manifest.json"

// Dir is the folder of a downloaded model.
func Dir(home, name string) string { return filepath.Join(home, "models", name) }

// IsComplete reports whether dir holds a model whose download finished: its manifest
// exists and says so. A folder without a complete manifest is never a usable model.
func IsComplete(dir string) bool {
	m, err := ReadManifest(dir)
	return err == nil && m.Complete
}

// Installed lists the names of the complete models under home.
func Installed(home string) []string {
	var names []string
	for _, n := range (&Store{Home: home}).Downloaded() {
		if IsComplete(Dir(home, n)) {
			names = append(names, n)
		}
	}
	return names
}

// MissingFiles returns one warning per external file that init/init.json of
// the local model folder dir lists but the folder lacks: modelhub never
// downloads into a folder it does not own, and the model would otherwise fail
// inside its container without saying why.
func MissingFiles(dir string) []string {
	in, err := config.LoadInit(dir)
	if err != nil {
		return nil
	}
	var warnings []string
	for _, ef := range in.Files {
		p, err := config.SafeDest(dir, ef.Dest)
		if err != nil {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			rel, _ := filepath.Rel(dir, p)
			warnings = append(warnings, fmt.Sprintf("%s is missing: init/init.json lists it; download it from %s into the folder, or the model may fail", filepath.ToSlash(rel), ef.SrcURL))
		}
	}
	return warnings
}
