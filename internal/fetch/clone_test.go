package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func TestClone_shallowSingleBranch(t *testing.T) {
	t.Parallel()
	gs := testutil.NewGitServer(t)
	repo := gs.Repo(t, "model", map[string]string{
		"init/init.json":            `{"docker_id": "x/y"}`,
		"contrib_src/model/a.txt":   "first",
		"contrib_src/model/big.txt": string(make([]byte, 100_000)),
	})
	first := repo.Head()
	repo.WriteFiles(map[string]string{"contrib_src/model/a.txt": "second"})
	second := repo.Commit("second")

	dir := filepath.Join(t.TempDir(), "clone")
	var events []CloneProgress
	hash, err := Clone(context.Background(), CloneOptions{
		URL: repo.URL, Branch: "master", Dir: dir,
		Progress: func(p CloneProgress) { events = append(events, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if hash != second || hash == first {
		t.Errorf("hash %s, want tip %s", hash, second)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contrib_src/model/a.txt")); string(got) != "second" {
		t.Errorf("a.txt = %q", got)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parents().Next(); err == nil {
		t.Error("the parent commit is present: the clone is not shallow")
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "shallow")); err != nil {
		t.Errorf("no .git/shallow: %v", err)
	}
	refs, _ := r.References()
	refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Name().IsTag() {
			t.Errorf("tag %s fetched", ref.Name())
		}
		return nil
	})
	sawPercent := false
	for _, e := range events {
		if e.Percent >= 0 && e.Stage != "" {
			sawPercent = true
		}
	}
	if !sawPercent {
		t.Errorf("no parsed progress among %d events: %+v", len(events), events)
	}
	lh, url, err := LocalHead(dir)
	if err != nil || lh != second || url != repo.URL {
		t.Errorf("LocalHead = %s %s %v, want %s %s", lh, url, err, second, repo.URL)
	}
	rh, err := RemoteHead(context.Background(), repo.URL, "master", Timeouts{})
	if err != nil || rh != second {
		t.Errorf("RemoteHead = %s %v, want %s", rh, err, second)
	}
	if rh, err := RemoteHead(context.Background(), repo.URL, "", Timeouts{}); err != nil || rh != second {
		t.Errorf("RemoteHead(HEAD) = %s %v, want %s", rh, err, second)
	}
}

func TestClone_otherBranch(t *testing.T) {
	t.Parallel()
	gs := testutil.NewGitServer(t)
	repo := gs.NewRepo(t, "m", "main")
	repo.WriteFiles(map[string]string{"f": "on main"})
	want := repo.Commit("c")
	dir := filepath.Join(t.TempDir(), "c")
	hash, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "main", Dir: dir})
	if err != nil || hash != want {
		t.Fatalf("Clone = %s, %v; want %s", hash, err, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); string(got) != "on main" {
		t.Errorf("f = %q", got)
	}
}

func TestClone_errors(t *testing.T) {
	t.Parallel()
	gs := testutil.NewGitServer(t)
	repo := gs.Repo(t, "m", map[string]string{"f": "x"})
	_, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "nope", Dir: filepath.Join(t.TempDir(), "a")})
	if !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("missing branch: %v, want ErrBranchNotFound", err)
	}
	if _, err := RemoteHead(context.Background(), repo.URL, "nope", Timeouts{}); !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("RemoteHead missing branch: %v, want ErrBranchNotFound", err)
	}
	_, err = Clone(context.Background(), CloneOptions{URL: gs.URL + "/absent.git", Branch: "master", Dir: filepath.Join(t.TempDir(), "b")})
	// one statement of the cause, no dangling ": " (it was "repository not found (...): repository not found: ")
	if !errors.Is(err, transport.ErrRepositoryNotFound) || strings.Count(err.Error(), "repository not found") != 1 || strings.HasSuffix(err.Error(), ": ") {
		t.Errorf("clone of a missing repository: %q", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Clone(ctx, CloneOptions{URL: repo.URL, Dir: filepath.Join(t.TempDir(), "c")}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled clone: %v, want context.Canceled", err)
	}
}

func TestParseProgressLine(t *testing.T) {
	t.Parallel()
	p := ParseProgressLine("Compressing objects:  50% (1/2)")
	if p.Stage != "Compressing objects" || p.Percent != 50 || p.Current != 1 || p.Total != 2 || p.Done {
		t.Errorf("%+v", p)
	}
	p = ParseProgressLine("Counting objects: 100% (3/3), done.")
	if p.Percent != 100 || !p.Done {
		t.Errorf("%+v", p)
	}
	p = ParseProgressLine("Enumerating objects: 5, done.")
	if p.Stage != "Enumerating objects" || p.Percent != -1 || !p.Done {
		t.Errorf("%+v", p)
	}
}

// The default branch is the one the remote's HEAD names (here "main", as
// GitHub's notebook repositories have), also beside other branches.
func TestDefaultBranch(t *testing.T) {
	g := testutil.NewGitServer(t)
	repo := g.NewRepo(t, "nb", "main")
	repo.WriteFiles(map[string]string{"a.ipynb": "{}"})
	repo.Commit("one")
	got, err := DefaultBranch(context.Background(), repo.URL)
	if err != nil || got != "main" {
		t.Fatalf("DefaultBranch = %q, %v; want main", got, err)
	}
	if _, err := DefaultBranch(context.Background(), g.URL+"/absent.git"); err == nil {
		t.Errorf("DefaultBranch of a missing repository: no error")
	}
}

func TestClone_commit(t *testing.T) {
	t.Parallel()
	gs := testutil.NewGitServer(t)
	repo := gs.Repo(t, "model", map[string]string{"a.txt": "first"})
	first := repo.Head()
	repo.WriteFiles(map[string]string{"a.txt": "second"})
	second := repo.Commit("second")

	// the tip: a shallow clone is enough
	dir := filepath.Join(t.TempDir(), "tip")
	hash, err := Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: dir, Commit: second})
	if err != nil || hash != second {
		t.Fatalf("clone at the tip: %s %v, want %s", hash, err, second)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "shallow")); err != nil {
		t.Errorf("a clone of the tip commit is not shallow: %v", err)
	}

	// an older commit of the branch: checked out
	dir = filepath.Join(t.TempDir(), "old")
	hash, err = Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: dir, Commit: strings.ToUpper(first)})
	if err != nil || hash != first {
		t.Fatalf("clone of the first commit: %s %v, want %s", hash, err, first)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(got) != "first" {
		t.Errorf("a.txt = %q, want the first commit's content", got)
	}
	if h, _, err := LocalHead(dir); err != nil || h != first {
		t.Errorf("LocalHead = %s %v, want %s", h, err, first)
	}

	// a commit that is not on the branch
	dir = filepath.Join(t.TempDir(), "none")
	_, err = Clone(context.Background(), CloneOptions{URL: repo.URL, Branch: "master", Dir: dir, Commit: strings.Repeat("ab", 20)})
	if !errors.Is(err, ErrCommitNotFound) || !strings.Contains(err.Error(), "not in the history of branch \"master\"") {
		t.Errorf("unknown commit: %v, want ErrCommitNotFound naming the branch", err)
	}
}
