// Package store keeps downloaded models under HOME/models/NAME.
package store

import "path/filepath"

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
