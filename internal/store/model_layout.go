package store

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
)

// The installed model knows its layout: where its contrib_src and
// config.json are and which image it runs in. Every command asks it instead
// of joining paths or reading init.json itself.

// ContribSrc is the model's contrib_src folder (mounted into its container).
func (m *Model) ContribSrc() string {
	return filepath.Join(m.Dir, filepath.FromSlash(config.ContribSrc))
}

// ConfigPath is the model's contrib_src/model/config.json.
func (m *Model) ConfigPath() string {
	return filepath.Join(m.Dir, filepath.FromSlash(config.ConfigPath))
}

// Image is the model's Docker image: the manifest's docker_id, else
// init.json's; an error when it is empty or still the template's
// placeholder.
func (m *Model) Image() (string, error) {
	id := ""
	if m.Manifest != nil {
		id = m.Manifest.DockerID
	}
	if id == "" {
		in, err := config.LoadInit(m.Dir)
		if err != nil {
			return "", err
		}
		id = in.DockerID
	}
	if strings.TrimSpace(id) == "" {
		return "", fmt.Errorf("%s: docker_id is empty; the model cannot run", filepath.Join(m.Dir, filepath.FromSlash(config.InitPath)))
	}
	if config.IsPlaceholder(id) {
		return "", fmt.Errorf("init/init.json: docker_id %q does not name an image: set it (see `modelhub validate`)", id)
	}
	return id, nil
}
