package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrBranchNotFound: the remote has no such branch.
var ErrBranchNotFound = errors.New("branch not found")

// ErrCommitNotFound: the commit asked for is not in the branch's history.
var ErrCommitNotFound = errors.New("commit not found")

// CloneProgress is one progress report from the remote ("Counting objects:
// 50% (1/2)"). Percent, Current and Total are -1 when the line has none.
type CloneProgress struct {
	Stage   string
	Percent int
	Current int
	Total   int
	// Done is true for the line that ends a stage ("..., done.").
	Done bool
	// Line is the raw text.
	Line string
}

// CloneOptions says what to clone where.
type CloneOptions struct {
	URL string
	// Branch to clone; "" means the remote's default branch.
	Branch string
	// Dir is created (it must not exist or be empty).
	Dir string
	// Depth of history; 0 means 1 (a shallow clone).
	Depth int
	// Commit, when set, is the full hash to check out: it must be in
	// Branch's history. The tip is cloned shallow first; only when the
	// branch has moved past Commit is its whole history fetched.
	Commit string
	// Progress receives the remote's progress lines.
	Progress func(CloneProgress)
	// Origin names where URL came from, for what to check when the clone
	// fails ("": "the model's github URL in the index").
	Origin string
	// Timeouts bound connecting and each wait for data (Connect, Stall).
	Timeouts Timeouts
}

// Clone makes a shallow single-branch clone of URL at Branch into Dir and
// returns the hash of the commit checked out.
func Clone(ctx context.Context, o CloneOptions) (string, error) {
	depth := o.Depth
	if depth <= 0 {
		depth = 1
	}
	co := &git.CloneOptions{
		URL:          o.URL,
		SingleBranch: true,
		Depth:        depth,
		Tags:         git.NoTags,
	}
	if o.Branch != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(o.Branch)
	}
	if o.Progress != nil {
		co.Progress = &progressParser{fn: o.Progress}
	}
	repo, err := plainClone(ctx, o, co)
	if err != nil {
		return "", err
	}
	head, err := repo.Head()
	if err != nil {
		return "", fmt.Errorf("clone %s: read HEAD: %w", o.URL, err)
	}
	if o.Commit == "" || strings.EqualFold(head.Hash().String(), o.Commit) {
		return head.Hash().String(), nil
	}
	return cloneCommit(ctx, o, co)
}

// cloneCommit clones the whole history of the branch again and checks out
// o.Commit (detached).
func cloneCommit(ctx context.Context, o CloneOptions, co *git.CloneOptions) (string, error) {
	if err := os.RemoveAll(o.Dir); err != nil {
		return "", err
	}
	full := *co
	full.Depth = 0
	full.NoCheckout = true
	repo, err := plainClone(ctx, o, &full)
	if err != nil {
		return "", err
	}
	h := plumbing.NewHash(strings.ToLower(o.Commit))
	if _, err := repo.CommitObject(h); err != nil {
		return "", fmt.Errorf("clone %s: %w: %s is not in the history of branch %q (pin a commit of that branch, or drop --commit)", o.URL, ErrCommitNotFound, o.Commit, o.Branch)
	}
	wt, err := repo.Worktree()
	if err == nil {
		err = wt.Checkout(&git.CheckoutOptions{Hash: h, Force: true})
	}
	if err != nil {
		return "", fmt.Errorf("clone %s: check out %s: %w", o.URL, o.Commit, err)
	}
	return h.String(), nil
}

// plainClone runs go-git's clone through the bounded transport and says
// what failed.
func plainClone(ctx context.Context, o CloneOptions, co *git.CloneOptions) (*git.Repository, error) {
	installGitTransport()
	gctx, st := withGitStall(ctx, o.Timeouts)
	repo, err := git.CloneContext(gctx, boundedStorage(o.Dir), osfs.New(o.Dir), co)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if st.stalled.Load() || isTimeout(err) {
			return nil, noAnswerErr("clone", o.URL, o.Origin, o.Timeouts)
		}
		return nil, cloneErr(o, err)
	}
	return repo, nil
}

func cloneErr(o CloneOptions, err error) error {
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, git.NoMatchingRefSpecError{}):
		return fmt.Errorf("clone %s: %w: %q (the index's github_branch is wrong; tell the index maintainers)", o.URL, ErrBranchNotFound, o.Branch)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		// go-git's own text is "repository not found: " (empty details): wrap the sentinel
		return fmt.Errorf("clone %s: %w (check the model's github URL in the index; a private repository cannot be cloned)", o.URL, transport.ErrRepositoryNotFound)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("clone %s: %w (the model's repository has no commits; tell the index maintainers)", o.URL, transport.ErrEmptyRemoteRepository)
	}
	// Local failures are not network trouble: say what really failed.
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("clone %s: disk full writing %s: %w (free some space and try again)", o.URL, o.Dir, err)
	}
	if strings.Contains(err.Error(), "invalid path") {
		return fmt.Errorf("clone %s: the repository holds a file name that is refused on this system: %w (tell the repository's maintainers)", o.URL, err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("clone %s: writing the clone failed: %w", o.URL, err)
	}
	if strings.Contains(err.Error(), "couldn't find remote ref") {
		return fmt.Errorf("clone %s: %w: %q", o.URL, ErrBranchNotFound, o.Branch)
	}
	return fmt.Errorf("clone %s: %w (check your network connection, and %s)", o.URL, err, originOr(o.Origin))
}

func originOr(origin string) string {
	if origin == "" {
		return "the model's github URL in the index"
	}
	return origin
}

// noAnswerErr names the git URL that did not answer and what to check.
func noAnswerErr(op, url, origin string, t Timeouts) error {
	return fmt.Errorf("%s %s: %w within %s (no connection, or no data); check your network or proxy and %s, then try again", op, url, ErrGitNoAnswer, t.stall(), originOr(origin))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RemoteHead returns the hash at the tip of branch on the remote without
// downloading objects ("" branch: the remote's HEAD), within t.
func RemoteHead(ctx context.Context, url, branch string, t Timeouts) (string, error) {
	installGitTransport()
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	gctx, st := withGitStall(ctx, t)
	refs, err := rem.ListContext(gctx, &git.ListOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if st.stalled.Load() || isTimeout(err) {
			return "", noAnswerErr("list", url, "", t)
		}
		return "", fmt.Errorf("list %s: %w", url, err)
	}
	want := plumbing.HEAD
	if branch != "" {
		want = plumbing.NewBranchReferenceName(branch)
	}
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name()] = r
	}
	for range 5 {
		r, ok := byName[want]
		if !ok {
			break
		}
		if r.Type() == plumbing.HashReference {
			return r.Hash().String(), nil
		}
		want = r.Target()
	}
	return "", fmt.Errorf("list %s: %w: %q", url, ErrBranchNotFound, branch)
}

// DefaultBranch returns the name of the remote's default branch (the branch
// its HEAD points to), without downloading objects.
func DefaultBranch(ctx context.Context, url string) (string, error) {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("list %s: %w", url, err)
	}
	var head *plumbing.Reference
	branches := map[plumbing.Hash][]plumbing.ReferenceName{}
	for _, r := range refs {
		switch {
		case r.Name() == plumbing.HEAD:
			head = r
		case r.Name().IsBranch() && r.Type() == plumbing.HashReference:
			branches[r.Hash()] = append(branches[r.Hash()], r.Name())
		}
	}
	if head == nil {
		return "", fmt.Errorf("list %s: %w: the remote names no default branch (HEAD)", url, ErrBranchNotFound)
	}
	if head.Type() == plumbing.SymbolicReference && head.Target().IsBranch() {
		return head.Target().Short(), nil
	}
	// A server that does not say where HEAD points: the one branch at its commit.
	if names := branches[head.Hash()]; len(names) == 1 {
		return names[0].Short(), nil
	}
	return "", fmt.Errorf("list %s: %w: cannot tell which branch HEAD is", url, ErrBranchNotFound)
}

// LocalHead returns the commit checked out in the clone at dir and its
// origin URL; it fails when dir is not a readable clone.
func LocalHead(dir string) (hash, url string, err error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return "", "", err
	}
	head, err := repo.Head()
	if err != nil {
		return "", "", err
	}
	if rem, err := repo.Remote("origin"); err == nil && len(rem.Config().URLs) > 0 {
		url = rem.Config().URLs[0]
	}
	return head.Hash().String(), url, nil
}

var progressRE = regexp.MustCompile(`^(.*?):\s+(\d+)%\s+\((\d+)/(\d+)\)`)

// progressParser turns the sideband progress stream ("\r"-separated
// updates, "\n"-terminated stages) into CloneProgress events.
type progressParser struct {
	fn  func(CloneProgress)
	mu  sync.Mutex
	buf []byte
}

func (p *progressParser) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexAny(p.buf, "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(p.buf[:i]))
		p.buf = p.buf[i+1:]
		if line != "" {
			p.fn(ParseProgressLine(line))
		}
	}
	return len(b), nil
}

// ParseProgressLine parses one remote progress line.
func ParseProgressLine(line string) CloneProgress {
	ev := CloneProgress{Line: line, Percent: -1, Current: -1, Total: -1}
	ev.Done = strings.HasSuffix(line, "done.") || strings.HasSuffix(line, "done")
	if m := progressRE.FindStringSubmatch(line); m != nil {
		ev.Stage = strings.TrimPrefix(m[1], "remote: ")
		ev.Percent, _ = strconv.Atoi(m[2])
		ev.Current, _ = strconv.Atoi(m[3])
		ev.Total, _ = strconv.Atoi(m[4])
		return ev
	}
	if stage, _, ok := strings.Cut(line, ":"); ok {
		ev.Stage = strings.TrimPrefix(stage, "remote: ")
	}
	return ev
}

// largeObject is the size from which go-git streams an object from disk
// instead of reading it whole into memory (a weight file committed to the
// repository would otherwise be held in memory while the clone is checked out).
const largeObject = 1 << 20

// boundedStorage is PlainClone's storage (dir/.git) with large objects
// streamed from disk.
func boundedStorage(dir string) *filesystem.Storage {
	dot := osfs.New(filepath.Join(dir, ".git"))
	return filesystem.NewStorageWithOptions(dot, cache.NewObjectLRUDefault(), filesystem.Options{LargeObjectThreshold: largeObject})
}
