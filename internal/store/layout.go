// Package store keeps downloaded models under HOME/models/NAME.
package store

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// ManifestPath is where a downloaded model records where it came from, relative to its folder.
const ManifestPath = ".modelhub/manifest.json"

// Dir is the folder of a downloaded model.
func Dir(home, name string) string { return filepath.Join(home, "models", name) }

// IsComplete reports whether dir holds a model whose download finished: its manifest
// exists and says so. A folder without a complete manifest is never a usable model.
func IsComplete(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ManifestPath)))
	if err != nil {
		return false
	}
	var m struct {
		Complete bool `json:"complete"`
	}
	return json.Unmarshal(data, &m) == nil && m.Complete
}

// Installed lists the names of the complete models under home.
func Installed(home string) []string {
	ents, err := os.ReadDir(filepath.Join(home, "models"))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && IsComplete(filepath.Join(home, "models", e.Name())) {
			names = append(names, e.Name())
		}
	}
	return names
}
