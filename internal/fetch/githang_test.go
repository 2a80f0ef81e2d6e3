package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// shrinkStall sets StallTimeout for one (non-parallel) test.
func shrinkStall(t *testing.T, d time.Duration) {
	saved := StallTimeout
	StallTimeout = d
	t.Cleanup(func() { StallTimeout = saved })
}

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
// give up after StallTimeout, naming the URL. (Not parallel: it sets StallTimeout.)
func TestGit_silentHost(t *testing.T) {
	shrinkStall(t, 300*time.Millisecond)
	l := testutil.NewSilentListener(t, "tcp")
	url := "http://" + l.Addr + "/model.git"

	start := time.Now()
	_, err := Clone(context.Background(), CloneOptions{URL: url, Branch: "master", Dir: filepath.Join(t.TempDir(), "c")})
	checkNoAnswer(t, err, url, time.Since(start))

	start = time.Now()
	_, err = RemoteHead(context.Background(), url, "master")
	checkNoAnswer(t, err, url, time.Since(start))
	if l.Accepted() < 2 {
		t.Errorf("%d connections accepted, want one per call", l.Accepted())
	}
}

// A git server that stops in the middle of its answer is cut off too.
func TestGit_stallMidAnswer(t *testing.T) {
	shrinkStall(t, 300*time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Write([]byte("001e# service=git-upload-pack\n0000"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/model.git"
	start := time.Now()
	_, err := RemoteHead(context.Background(), url, "master")
	checkNoAnswer(t, err, url, time.Since(start))
}

// The watchdog lets a clone and a listing that answer through: its timer is
// reset by each read and stopped when the answer ends.
func TestGit_answeringHostWorks(t *testing.T) {
	shrinkStall(t, 2*time.Second)
	gs := testutil.NewGitServer(t)
	repo := gs.Repo(t, "model", map[string]string{"init/init.json": `{"docker_id": "x/y"}`})
	if _, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: filepath.Join(t.TempDir(), "c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoteHead(context.Background(), repo.URL, "master"); err != nil {
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
