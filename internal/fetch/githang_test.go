package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// stall300 is the test-sized timeouts of the hung-host tests.
var stall300 = Timeouts{Stall: 300 * time.Millisecond}

// checkNoAnswer: err says which git URL did not answer and what to check,
// and came within a bound.
func checkNoAnswer(t *testing.T, err error, url string, took time.Duration) {
	t.Helper()
	if !errors.Is(err, ErrGitNoAnswer) {
		t.Fatalf("err %v, want ErrGitNoAnswer", err)
	}
	for _, want := range []string{url, "did not answer within 300ms", "check your network"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if took > 10*time.Second {
		t.Errorf("took %s with a 300ms stall timeout", took)
	}
}

// A git host that accepts connections and never answers: clone and listing
// give up after Timeouts.Stall, naming the URL.
func TestGit_silentHost(t *testing.T) {
	l := testutil.NewSilentListener(t, "tcp")
	url := "http://" + l.Addr + "/model.git"

	start := time.Now()
	_, err := Clone(context.Background(), CloneOptions{URL: url, Branch: "master", Dir: filepath.Join(t.TempDir(), "c"), Timeouts: stall300})
	checkNoAnswer(t, err, url, time.Since(start))

	start = time.Now()
	_, err = RemoteHead(context.Background(), url, "master", stall300)
	checkNoAnswer(t, err, url, time.Since(start))
	if l.Accepted() < 2 {
		t.Errorf("%d connections accepted, want one per call", l.Accepted())
	}
}

// A git server that stops in the middle of its answer is cut off too.
func TestGit_stallMidAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Write([]byte("001e# service=git-upload-pack\n0000"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/model.git"
	start := time.Now()
	_, err := RemoteHead(context.Background(), url, "master", stall300)
	checkNoAnswer(t, err, url, time.Since(start))
}

// The watchdog lets a clone and a listing that answer through: its timer is
// reset by each read and stopped when the answer ends.
func TestGit_answeringHostWorks(t *testing.T) {
	net := Timeouts{Stall: 2 * time.Second}
	gs := testutil.NewGitServer(t)
	repo := gs.Repo(t, "model", map[string]string{"init/init.json": `{"docker_id": "x/y"}`})
	if _, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: filepath.Join(t.TempDir(), "c"), Timeouts: net}); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoteHead(context.Background(), repo.URL, "master", net); err != nil {
		t.Fatal(err)
	}
}

// Ctrl-C during a hung clone is a cancellation, not "no answer".
func TestGit_silentHostCancelled(t *testing.T) {
	l := testutil.NewSilentListener(t, "tcp")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Clone(ctx, CloneOptions{URL: "http://" + l.Addr + "/m.git", Dir: filepath.Join(t.TempDir(), "c")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// Local failures during a clone say what failed, not "check your network".
func TestCloneErr_local(t *testing.T) {
	t.Parallel()
	o := CloneOptions{URL: "http://h/m.git", Dir: "/x/stage"}
	for in, want := range map[error]string{
		&os.PathError{Op: "write", Path: "/x/stage/.git/objects/pack/tmp", Err: syscall.ENOSPC}: "clone http://h/m.git: disk full writing /x/stage: write /x/stage/.git/objects/pack/tmp: no space left on device (free some space and try again)",
		errors.New(`invalid path: ".git/hooks/x"`):                                              `clone http://h/m.git: the repository holds a file name that is refused on this system: invalid path: ".git/hooks/x" (tell the repository's maintainers)`,
		&os.PathError{Op: "open", Path: "/x/stage/a", Err: syscall.EACCES}:                      "clone http://h/m.git: writing the clone failed: open /x/stage/a: permission denied",
	} {
		got := cloneErr(o, in).Error()
		if got != want {
			t.Errorf("cloneErr(%v) =\n%s\nwant\n%s", in, got, want)
		}
		if strings.Contains(got, "network") {
			t.Errorf("%q blames the network", got)
		}
	}
}

// A file server that accepts the connection and never answers: a Downloader
// with its own Timeouts.Connect gives up on the headers after it, through a
// client of its own (the shared default client keeps 30 s).
func TestDownload_connectTimeout(t *testing.T) {
	l := testutil.NewSilentListener(t, "tcp")
	d := &Downloader{Timeouts: Timeouts{Connect: 300 * time.Millisecond, MaxAttempts: 1}}
	start := time.Now()
	_, err := d.Fetch(context.Background(), File{URL: "http://" + l.Addr + "/a.bin", Dest: filepath.Join(t.TempDir(), "a.bin")})
	if err == nil || !strings.Contains(err.Error(), "giving up after 1 attempts") {
		t.Fatalf("err %v, want a give-up after one attempt", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s with a 300ms connect timeout", took)
	}
	if d.client() == defaultClient() || d.client() != d.client() {
		t.Error("a Downloader with its own Connect uses the shared client, or a new one per call")
	}
}
