//go:build linux

package conformance

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// asNobody runs modelhub as the user nobody (with the docker group, so it
// may use the daemon), in the test's environment plus env.
func (e *Env) asNobody(env []string, args ...string) Result {
	e.t.Helper()
	grp, err := user.LookupGroup("docker")
	if err != nil {
		e.t.Skipf("no docker group: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	full := append([]string{"--reuid=nobody", "--regid=nogroup", "--groups=" + grp.Gid, binPath}, args...)
	cmd := exec.CommandContext(ctx, "setpriv", full...)
	cmd.Env = append(append(e.environ(), "HOME="+e.Home), env...)
	cmd.Dir = "/"
	var out, errb Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	_ = cmd.Run()
	return Result{Args: args, Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode(), Took: time.Since(start)}
}

// nonRootModel pulls the model into a home owned by nobody, then writes a
// root-owned contrib_src/__pycache__ into it, as older versions' containers did.
func nonRootModel(t *testing.T) *Env {
	if os.Getuid() != 0 {
		t.Skip("needs root, to act as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	e := newEnv(t)
	top, err := os.MkdirTemp("", "modelhub-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	for _, d := range []string{top, filepath.Dir(binPath)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.Home = filepath.Join(top, "home")
	e.must("pull", e.Model)
	if out, err := exec.Command("chown", "-R", "nobody:nogroup", e.Home).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	pyc := filepath.Join(e.ModelDir(), "contrib_src", "__pycache__")
	if err := os.MkdirAll(pyc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pyc, "inference.cpython-311.pyc"), []byte("root"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func noTrash(t *testing.T, e *Env) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(e.Home, "models"))
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".") && d.Name() != ".locks" {
			t.Errorf("left in models/: %s", d.Name())
		}
	}
}

// rm as a non-root user of a model folder holding root-owned files: without
// Docker it fails before touching anything, naming the chown that fixes it;
// with Docker the files are given back through a container of the model's
// image and the model is removed, leaving nothing.
func TestNonRoot_rm(t *testing.T) {
	e := nonRootModel(t)
	r := e.asNobody([]string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "rm", e.Model)
	if r.Code != 1 || !strings.Contains(r.Stderr, "sudo chown -R") || !strings.Contains(r.Stderr, "contrib_src/__pycache__") {
		t.Errorf("rm without Docker:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(e.ModelDir(), ".modelhub", "manifest.json")); err != nil {
		t.Errorf("the model was touched: %v", err)
	}
	noTrash(t, e)

	r = e.asNobody(nil, "rm", e.Model)
	if r.Code != 0 {
		t.Fatalf("rm with Docker:\n%s", r)
	}
	if _, err := os.Stat(e.ModelDir()); !os.IsNotExist(err) {
		t.Errorf("the model folder is still there: %v", err)
	}
	noTrash(t, e)
}

// pull --update as a non-root user replaces a folder holding root-owned files.
func TestNonRoot_pullUpdate(t *testing.T) {
	e := nonRootModel(t)
	e.Repo.WriteFiles(map[string]string{"contrib_src/NEWS": "a second version\n"})
	e.Repo.Commit("second")
	r := e.asNobody([]string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "pull", "--update", e.Model)
	if r.Code != 1 || !strings.Contains(r.Stderr, "sudo chown -R") {
		t.Errorf("pull --update without Docker:\n%s", r)
	}
	noTrash(t, e)
	r = e.asNobody(nil, "pull", "--update", e.Model)
	if r.Code != 0 {
		t.Fatalf("pull --update with Docker:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(e.ModelDir(), "contrib_src", "NEWS")); err != nil {
		t.Errorf("not updated: %v", err)
	}
	noTrash(t, e)
}
