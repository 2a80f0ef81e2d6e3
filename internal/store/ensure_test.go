package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Ensure pulls a model that is not on disk, leaves a complete one alone,
// repairs a changed file only with Repair, and knows the model's layout.
func TestEnsure(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	ctx := context.Background()
	m, err := fx.s.Resolve(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	pulls := 0
	o := EnsureOptions{Pulling: func() (PullOptions, func()) { pulls++; return PullOptions{}, func() {} }}
	m, res, err := fx.s.Ensure(ctx, m, o)
	if err != nil || res == nil || pulls != 1 || !m.Complete() {
		t.Fatalf("first Ensure: %+v %+v %v, %d pulls", m, res, err, pulls)
	}
	fx.checkComplete(m.Dir)
	if img, err := m.Image(); err != nil || img != "modelhub/demo" {
		t.Errorf("Image = %q, %v", img, err)
	}
	if m.ContribSrc() != filepath.Join(m.Dir, "contrib_src") || m.ConfigPath() != filepath.Join(m.Dir, "contrib_src", "model", "config.json") {
		t.Errorf("layout %s %s", m.ContribSrc(), m.ConfigPath())
	}
	if _, res, err := fx.s.Ensure(ctx, m, o); err != nil || res != nil || pulls != 1 {
		t.Errorf("complete: %+v %v, %d pulls", res, err, pulls)
	}
	b := filepath.Join(m.Dir, "contrib_src", "model", "b.bin")
	if err := os.WriteFile(b, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, res, err := fx.s.Ensure(ctx, m, o); err != nil || res != nil || pulls != 1 {
		t.Errorf("changed, no Repair: %+v %v, %d pulls", res, err, pulls)
	}
	o.Repair = true
	if _, res, err := fx.s.Ensure(ctx, m, o); err != nil || res == nil || pulls != 2 {
		t.Errorf("Repair: %+v %v, %d pulls", res, err, pulls)
	}
	fx.checkComplete(m.Dir)
	o.Always = true
	if _, res, err := fx.s.Ensure(ctx, m, o); err != nil || res == nil || !res.UpToDate || pulls != 3 {
		t.Errorf("Always: %+v %v, %d pulls", res, err, pulls)
	}
}

// A model with no store to pull it is an error; a local folder with a link
// out of it is refused.
func TestEnsure_refusals(t *testing.T) {
	skipNoSymlinks(t)
	var s *Store
	if _, _, err := s.Ensure(context.Background(), &Model{Name: "x", Dir: t.TempDir()}, EnsureOptions{}); err == nil || !strings.Contains(err.Error(), "no store to pull x") {
		t.Errorf("nil store: %v", err)
	}
	dir := t.TempDir()
	out, check := victim(t)
	if err := os.Symlink(out, filepath.Join(dir, "contrib_src")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Ensure(context.Background(), &Model{Name: "l", Dir: dir, Local: true}, EnsureOptions{}); err == nil {
		t.Error("a contrib_src link was accepted")
	}
	check()
}
