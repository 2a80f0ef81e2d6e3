package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadSettings(filepath.Join(dir, "missing.json"))
	if err != nil || s.Predict.SEG || s.Path != "" {
		t.Fatalf("missing file: %+v %v", s, err)
	}
	p := filepath.Join(dir, "settings.json")
	os.WriteFile(p, []byte(`{"predict": {"seg": true, "labels": "l.json"}, "pacs": {"future": 1}}`), 0o600)
	s, err = LoadSettings(p)
	if err != nil || !s.Predict.SEG || s.Predict.Labels != filepath.Join(dir, "l.json") || s.Path != p {
		t.Fatalf("%+v %v", s, err)
	}
	os.WriteFile(p, []byte("{\n  \"predict\": {\"seg\": yes}\n}"), 0o600)
	if _, err := LoadSettings(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), EnvSettings) {
		t.Fatalf("bad JSON: %v", err)
	}
	t.Setenv(EnvSettings, "rel.json")
	if got, err := SettingsPath(); err != nil || !filepath.IsAbs(got) || filepath.Base(got) != "rel.json" {
		t.Fatalf("SettingsPath %q %v", got, err)
	}
}
