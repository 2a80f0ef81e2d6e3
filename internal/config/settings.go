package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvSettings names the settings file instead of the default location.
const EnvSettings = "MODELHUB_SETTINGS"

// Settings are the user's defaults for flags, from a JSON file (see
// docs/settings.md). Keys modelhub does not know are ignored, so a newer
// file works with an older modelhub.
type Settings struct {
	// Path is the file the settings came from ("" when there was none).
	Path    string          `json:"-"`
	Predict PredictSettings `json:"predict"`
	PACS    PACSSettings    `json:"pacs"`
}

// PACSSettings are the credentials of DICOMweb servers (modelhub pacs,
// predict --from); the environment's MODELHUB_PACS_* win over them. A
// settings file holding a password or token must be readable by its owner
// only (mode 0600).
type PACSSettings struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// PredictSettings are defaults of `modelhub predict`.
type PredictSettings struct {
	// SEG writes a DICOM SEG for every DICOM case (--seg).
	SEG bool `json:"seg"`
	// Labels is a --labels FILE used when --labels is not given.
	Labels string `json:"labels"`
}

// SettingsPath is $MODELHUB_SETTINGS, else settings.json in the user's
// configuration folder ($XDG_CONFIG_HOME/modelhub or ~/.config/modelhub on
// Linux, ~/Library/Application Support/modelhub on macOS, %AppData%\modelhub
// on Windows).
func SettingsPath() (string, error) {
	if p := os.Getenv(EnvSettings); p != "" {
		return filepath.Abs(p)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your configuration folder (%v): set %s", err, EnvSettings)
	}
	return filepath.Join(dir, "modelhub", "settings.json"), nil
}

// LoadSettings reads the settings file at path; a missing file gives the
// defaults. A relative labels path is relative to the file's folder.
func LoadSettings(path string) (*Settings, error) {
	s := &Settings{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read settings %s: %w", path, err)
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("settings %s: %v (fix the file, or point %s elsewhere)", path, describeJSONError(data, err), EnvSettings)
	}
	s.Path = path
	if s.PACS.Password != "" || s.PACS.Token != "" {
		if err := privateFile(path); err != nil {
			return nil, err
		}
	}
	if l := s.Predict.Labels; l != "" && !filepath.IsAbs(l) {
		s.Predict.Labels = filepath.Join(filepath.Dir(path), l)
	}
	return s, nil
}
