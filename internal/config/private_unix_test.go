//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A settings file holding a PACS password or token must be 0600; one
// without credentials may be world-readable.
func TestSettingsCredentialsPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(p, []byte(`{"pacs": {"user": "alice", "password": "s3cret"}}`), 0o644)
	os.Chmod(p, 0o644)
	_, err := LoadSettings(p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) || !strings.Contains(err.Error(), "mode 0644") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("0644 with a password: %v", err)
	}
	os.Chmod(p, 0o600)
	s, err := LoadSettings(p)
	if err != nil || s.PACS.User != "alice" || s.PACS.Password != "s3cret" {
		t.Fatalf("0600: %+v %v", s, err)
	}
	os.WriteFile(p, []byte(`{"pacs": {"user": "alice"}, "predict": {"seg": true}}`), 0o644)
	os.Chmod(p, 0o644)
	if _, err := LoadSettings(p); err != nil {
		t.Fatalf("no secret, 0644: %v", err)
	}
}
