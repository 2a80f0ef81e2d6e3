package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// demoServer serves the demo index, the demo model's git repository (smart
// HTTP through `git http-backend`) and its external file, all on 127.0.0.1.
type demoServer struct {
	IndexURL string
	srv      *http.Server
}

func (s *demoServer) Close() { s.srv.Close() }

func serveDemo(root, gitRoot string) (*demoServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + l.Addr().String()
	weights := filepath.Join(root, "demo", "files", "weights.bin")
	if err := makeRepo(filepath.Join(root, "demo", "model"), gitRoot, base); err != nil {
		l.Close()
		return nil, err
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("the demo needs git: %w", err)
	}
	index, _ := json.MarshalIndent([]map[string]any{{
		"id": "6a1e53a4-3f7e-4b5c-9d1a-0d3c2b7e9f10", "name": "demo",
		"task_extended": "Bright or dark image classification (demo model)",
		"github":        base + "/git/demo.git", "github_branch": "master", "backend": []string{"demo"},
	}}, "", "  ")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /models.json", func(w http.ResponseWriter, r *http.Request) { w.Write(index) })
	mux.HandleFunc("GET /files/weights.bin", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, weights) })
	mux.Handle("/git/", http.StripPrefix("/git", &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + gitRoot, "GIT_HTTP_EXPORT_ALL=1"}}))
	s := &demoServer{IndexURL: base + "/models.json", srv: &http.Server{Handler: mux}}
	go s.srv.Serve(l)
	return s, nil
}

// makeRepo commits the demo model (with its init.json pointing at our file
// server) into the bare repository gitRoot/demo.git.
func makeRepo(src, gitRoot, base string) error {
	work := filepath.Join(gitRoot, "work")
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		return err
	}
	initPath := filepath.Join(work, "init", "init.json")
	data, err := os.ReadFile(initPath)
	if err != nil {
		return err
	}
	// The repo's init.json names the demo file server's usual address; point it at ours.
	var in map[string]any
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("%s: %w", initPath, err)
	}
	for _, f := range in["external_contrib_files"].([]any) {
		e := f.(map[string]any)
		u := e["src_url"].(string)
		if i := strings.Index(u, "/files/"); i >= 0 {
			e["src_url"] = base + u[i:]
		}
	}
	data, _ = json.MarshalIndent(in, "", "  ")
	if err := os.WriteFile(initPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	git := func(dir string, args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=modelhub demo", "GIT_AUTHOR_EMAIL=demo@localhost",
			"GIT_COMMITTER_NAME=modelhub demo", "GIT_COMMITTER_EMAIL=demo@localhost", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, args := range [][]string{{"init", "-q", "-b", "master"}, {"add", "-A"}, {"commit", "-q", "-m", "demo model"}} {
		if err := git(work, args...); err != nil {
			return err
		}
	}
	if err := git(gitRoot, "clone", "-q", "--bare", work, "demo.git"); err != nil {
		return err
	}
	return os.RemoveAll(work)
}
