package conformance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A model made with `modelhub new` (the built-in template) starts on the real
// engine as it is: its run.py must use what the engine provides
// (modelhubapi.webservice), and its config.json must be what get_config serves.
func TestNewTemplateStartsOnRealEngine(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	cmd := e.Cmd(context.Background(), "new", "tmpl", "--offline")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("new: %v\n%s", err, out)
	}
	model := filepath.Join(dir, "tmpl")
	initJSON, _ := json.Marshal(map[string]any{"docker_id": e.Image, "external_contrib_files": []any{}})
	if err := os.WriteFile(filepath.Join(model, "init", "init.json"), initJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.must("run", "-d", "--json", "--timeout", "2m", model)
	t.Cleanup(func() { e.run("stop", "tmpl") })
	var res runResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.APIURL == "" {
		t.Fatalf("run --json: %v\n%s", err, r)
	}
	resp, err := http.Get(res.APIURL + "/api/get_config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, err := os.ReadFile(filepath.Join(model, "contrib_src", "model", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if json.Unmarshal(body, &a) != nil || json.Unmarshal(want, &b) != nil || !strings.Contains(string(body), "meta") {
		t.Fatalf("get_config = %d %.300s, want the template's config.json", resp.StatusCode, body)
	}
	e.must("stop", "tmpl")
}
