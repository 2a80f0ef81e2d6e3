// Package testutil holds loopback test servers and helpers shared by the
// tests of every package. It is imported only by tests.
package testutil

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// T is the part of testing.TB the servers use (testing.TB satisfies it; a
// testscript setup can adapt its own).
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
}

// GitServer serves bare repositories over git's smart-HTTP protocol
// (`git http-backend` behind net/http/cgi) on 127.0.0.1.
type GitServer struct {
	// URL is the server's base URL; repositories live at URL/NAME.git.
	URL string
	// Root is GIT_PROJECT_ROOT: the folder holding the bare repositories.
	Root string

	srv      *httptest.Server
	work     string
	requests atomic.Int64
	silent   atomic.Bool
	closing  chan struct{}
}

// SetSilent makes the server accept requests and never answer them (true),
// as a hung git host does, or answer again (false).
func (g *GitServer) SetSilent(on bool) { g.silent.Store(on) }

// GitBackend returns the path of git-http-backend, or "" when git is not installed.
func GitBackend() string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// NewGitServer starts a smart-HTTP git server; it is closed when the test ends.
// The test is skipped when git or git-http-backend is missing.
func NewGitServer(t T) *GitServer {
	t.Helper()
	return NewGitServerOn(t, "127.0.0.1")
}

// NewGitServerOn is NewGitServer listening on host (an address of this
// machine, e.g. a local bridge's that containers reach) instead of 127.0.0.1.
func NewGitServerOn(t T, host string) *GitServer {
	t.Helper()
	backend := GitBackend()
	if backend == "" {
		t.Skip("git http-backend not available")
	}
	dir := t.TempDir()
	g := &GitServer{Root: filepath.Join(dir, "repos"), work: filepath.Join(dir, "work"), closing: make(chan struct{})}
	for _, d := range []string{g.Root, g.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := &cgi.Handler{
		Path:   backend,
		Stderr: io.Discard, // "Not a git repository" for absent repos is expected noise
		Root:   "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + dir,
		},
	}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		if g.silent.Load() {
			select {
			case <-r.Context().Done():
			case <-g.closing:
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	listenOn(t, g.srv, host)
	g.srv.Start()
	g.URL = g.srv.URL
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() { close(g.closing) }) // runs first: silent handlers end, then Close returns
	return g
}

// Requests returns how many HTTP requests the server has answered.
func (g *GitServer) Requests() int64 { return g.requests.Load() }

// Repo is a bare repository served by a GitServer plus the work tree the
// test commits from.
type Repo struct {
	Name   string
	Branch string
	// URL is the clone URL.
	URL string

	t    T
	bare string
	work string
	mu   sync.Mutex
}

// NewRepo creates an empty bare repository NAME.git whose commits go to branch.
func (g *GitServer) NewRepo(t T, name, branch string) *Repo {
	t.Helper()
	if branch == "" {
		branch = "master"
	}
	r := &Repo{
		Name:   name,
		Branch: branch,
		URL:    g.URL + "/" + name + ".git",
		t:      t,
		bare:   filepath.Join(g.Root, name+".git"),
		work:   filepath.Join(g.work, name),
	}
	r.git("", "init", "-q", "--bare", "-b", branch, r.bare)
	r.git("", "init", "-q", "-b", branch, r.work)
	return r
}

// Repo creates a repository holding files (path -> content) in one commit on
// branch "master" and returns it.
func (g *GitServer) Repo(t T, name string, files map[string]string) *Repo {
	t.Helper()
	r := g.NewRepo(t, name, "master")
	r.WriteFiles(files)
	r.Commit("initial")
	return r
}

// RepoFromDir creates a repository from the files in dir (a fixture folder).
func (g *GitServer) RepoFromDir(t T, name, branch, dir string) *Repo {
	t.Helper()
	r := g.NewRepo(t, name, branch)
	r.CopyDir(dir)
	r.Commit("initial")
	return r
}

// WriteFiles writes files (slash-separated path -> content) into the work tree.
func (r *Repo) WriteFiles(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Symlinks writes symbolic links (slash-separated path -> target, kept as
// given) into the work tree, as a hostile repository may carry them.
func (r *Repo) Symlinks(links map[string]string) {
	r.t.Helper()
	for name, target := range links {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Remove deletes files from the work tree (committed by the next Commit).
func (r *Repo) Remove(names ...string) {
	r.t.Helper()
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(r.work, filepath.FromSlash(name))); err != nil {
			r.t.Fatal(err)
		}
	}
}

// CopyDir copies the regular files under dir into the work tree.
func (r *Repo) CopyDir(dir string) {
	r.t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(r.work, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// Commit commits everything in the work tree, pushes it to the served bare
// repository and returns the commit hash.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "--allow-empty", "-m", msg)
	r.git(r.work, "push", "-q", r.bare, "HEAD:refs/heads/"+r.Branch)
	return strings.TrimSpace(r.git(r.work, "rev-parse", "HEAD"))
}

// Head returns the hash at the tip of the served branch.
func (r *Repo) Head() string {
	r.t.Helper()
	return strings.TrimSpace(r.git(r.bare, "rev-parse", "refs/heads/"+r.Branch))
}

func (r *Repo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// String describes the repo for failure messages.
func (r *Repo) String() string { return fmt.Sprintf("%s (%s)", r.Name, r.URL) }
