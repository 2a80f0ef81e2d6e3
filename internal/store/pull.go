package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/notebook"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// PullOptions tune Pull. The callbacks are optional; they are how the CLI
// learns what happens (this package never prints).
type PullOptions struct {
	// Update brings a downloaded model to the tip of its branch.
	Update bool
	// Commit pins the full commit hash to install (it must be in the
	// branch's history): a model downloaded at another commit is replaced,
	// one at this commit is only checked.
	Commit string
	// Jobs is how many files download at once (0: fetch.DefaultJobs).
	Jobs int
	// HTTPClient for the downloads (nil: fetch's default).
	HTTPClient *http.Client
	// LockTimeout is how long to wait for another process (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// Locked: the caller holds the model's lock already (LockModel), e.g.
	// launch.Start, which holds it across the whole start of the model.
	Locked bool

	// Note receives one-line messages for people.
	Note func(string)
	// Clone receives the remote's clone progress.
	Clone func(fetch.CloneProgress)
	// Files is called before downloading with the files to fetch.
	Files func([]fetch.File)
	// Download receives download progress events.
	Download func(fetch.Event)
}

func (o *PullOptions) note(format string, args ...any) {
	if o.Note != nil {
		o.Note(fmt.Sprintf(format, args...))
	}
}

// PullResult says what Pull did.
type PullResult struct {
	Model *Model
	// Cloned is true when the repository was cloned in this run.
	Cloned bool
	// UpToDate is true when the model was already complete (and, with
	// Update, at the branch tip).
	UpToDate bool
	// Fetched is how many files were downloaded, Reused how many were kept.
	Fetched, Reused int
	// Downloaded is the number of bytes received in this run.
	Downloaded int64
}

// stagingDir is where a pull of name is assembled before it is renamed into
// place; it is on the same filesystem as the model folder.
func (s *Store) stagingDir(name string) string {
	return filepath.Join(s.ModelsDir(), ".staging-"+strings.ToLower(name))
}

func (s *Store) oldDir(name string) string {
	return filepath.Join(s.ModelsDir(), ".old-"+strings.ToLower(name))
}

type cloneInfo struct {
	URL    string `json:"url"`
	Branch string `json:"branch"` // the branch cloned
	Commit string `json:"commit"`
	// Wanted is the branch asked for (the index's), when Branch is the
	// remote's default branch cloned instead because Wanted does not exist.
	Wanted string `json:"wanted,omitempty"`
}

// wanted is the branch the clone was asked for.
func (ci cloneInfo) wanted() string {
	if ci.Wanted != "" {
		return ci.Wanted
	}
	return ci.Branch
}

// Pull makes m complete on disk: it takes the model's lock, clones the
// repository and downloads the external files into a staging folder, and
// renames it into place when everything is there. An interrupted pull leaves
// the previous state usable and the staging folder for the next pull to
// resume. A local model is only checked.
func (s *Store) Pull(ctx context.Context, m *Model, o PullOptions) (*PullResult, error) {
	res := &PullResult{Model: m}
	if m.Local {
		if err := checkLocal(m, res); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := os.MkdirAll(s.ModelsDir(), 0o755); err != nil {
		return nil, err
	}
	if !o.Locked {
		lock, err := LockModel(ctx, s.Home, m.Name, o.LockTimeout, o.Note)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}

	s.recoverSwap(m.Name, m.Dir)
	s.sweepTrash(m.Name)
	// Another process may have finished this model while we waited.
	var cur *Manifest
	if man, err := ReadManifest(m.Dir); err == nil && man.Complete {
		cur = man
		m.Manifest = man
	}
	src := pullSource{entry: m.Entry, index: m.Index}
	if src.entry == nil && cur != nil {
		e := cur.Entry
		src.entry, src.index = &e, cur.Index
	}
	if src.entry == nil {
		return nil, fmt.Errorf("model %s has no index entry", m.Name)
	}
	if cur != nil && !o.Update && (o.Commit == "" || strings.EqualFold(cur.Commit, o.Commit)) {
		return s.repair(ctx, m, cur, o, res)
	}
	if o.Commit != "" {
		src.target = strings.ToLower(o.Commit)
	} else if cur != nil {
		upToDate, err := s.updateSource(ctx, m, cur, &src, o)
		if err != nil {
			return nil, err
		}
		if upToDate {
			return s.repair(ctx, m, cur, o, res)
		}
	}
	m.Entry = src.entry
	if cur != nil {
		// The current folder is replaced at the end: files a model container
		// wrote in it as root must be deletable before anything is fetched.
		if err := s.ensureRemovable(ctx, m.Dir, cur.DockerID); err != nil {
			return nil, err
		}
	}

	stage := s.stagingDir(m.Name)
	ci, cloned, err := s.stageClone(ctx, stage, src.entry, src.branch, src.target, o.Commit != "", o)
	if err != nil {
		return nil, err
	}
	res.Cloned = cloned
	// A link the repository carries where it could reach the host (a linked
	// contrib_src, a link out of the folder) rejects it before anything is
	// read from the clone or downloaded; nothing of it is kept.
	if err := safepath.CheckTree(stage); err != nil {
		os.RemoveAll(stage)
		return nil, fmt.Errorf("model %s (commit %s): %w", m.Name, short(ci.Commit), err)
	}
	if notebook.IsEntry(src.entry) || notebook.IsFolder(stage) {
		err = s.installNotebook(m, stage, src.entry, ci)
	} else {
		err = s.completeStage(ctx, m, stage, src, ci, cur, o, res)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkLocal checks a local model folder, which Pull never fetches (a
// notebook's init.json is not followed).
func checkLocal(m *Model, res *PullResult) error {
	res.UpToDate = true
	if m.IsNotebook() {
		return nil
	}
	in, err := config.LoadInit(m.Dir)
	if err != nil {
		return err
	}
	if err := in.Check(m.Dir); err != nil {
		return fmt.Errorf("%s: %w", m.Dir, err)
	}
	return CheckFolder(m)
}

// pullSource is what Pull fetches: the index entry (and where it was found),
// the commit to install ("": the branch's tip) and the branch to clone ("":
// the entry's).
type pullSource struct {
	entry          *registry.Entry
	index          string
	target, branch string
}

// updateSource looks for a newer commit of the downloaded model cur: the
// index's current entry (the manifest's when the index cannot be read),
// then its branch's tip. It reports true when cur is already at the tip.
func (s *Store) updateSource(ctx context.Context, m *Model, cur *Manifest, src *pullSource, o PullOptions) (bool, error) {
	if s.Index != nil {
		if ix, err := s.Index(ctx); err == nil {
			if e, err := ix.Lookup(m.Name); err == nil {
				src.entry, src.index = e, IndexSource(ix)
			}
		} else if ctx.Err() != nil {
			return false, ctx.Err()
		} else {
			o.note("using the index entry recorded in the manifest (%v)", err)
		}
	}
	entry := src.entry
	src.branch = entry.Branch()
	tip, err := fetch.RemoteHead(ctx, entry.GitHub, src.branch, s.Net)
	if errors.Is(err, fetch.ErrBranchNotFound) && entry.GitHub == cur.Entry.GitHub &&
		cur.Branch != "" && cur.Branch != src.branch {
		// The index's branch still does not exist: follow the branch
		// the model was cloned from (the remote's default branch then).
		src.branch = cur.Branch
		tip, err = fetch.RemoteHead(ctx, entry.GitHub, src.branch, s.Net)
	}
	if err != nil {
		return false, fmt.Errorf("update %s: %w", m.Name, err)
	}
	if tip == cur.Commit && entry.GitHub == cur.Entry.GitHub {
		o.note("%s is up to date (commit %s)", m.Name, short(tip))
		return true, nil
	}
	src.target = tip
	return false, nil
}

// installNotebook puts the clone of a notebook in place: it is not a Docker
// model, so its init.json (the template's placeholders) is neither checked
// nor followed; the clone is kept so the notebook can be opened locally.
func (s *Store) installNotebook(m *Model, stage string, entry *registry.Entry, ci cloneInfo) error {
	man := &Manifest{Entry: *entry, Commit: ci.Commit, Branch: ci.Branch, Notebook: true, Files: []ManifestFile{}}
	return s.commitStage(m, stage, man)
}

// completeStage checks the cloned model's init.json, downloads the files it
// names into stage (reusing those of cur) and puts stage in place.
func (s *Store) completeStage(ctx context.Context, m *Model, stage string, src pullSource, ci cloneInfo, cur *Manifest, o PullOptions, res *PullResult) error {
	in, err := config.LoadInit(stage)
	if err == nil {
		err = in.Check(stage)
	}
	if err != nil {
		// Nothing of a rejected model is kept.
		os.RemoveAll(stage)
		return fmt.Errorf("model %s (commit %s): %w", m.Name, short(ci.Commit), err)
	}
	man, todo, err := s.plan(stage, src.entry, ci.Commit, in, cur, m.Dir, res)
	if err != nil {
		return err
	}
	man.Branch = ci.Branch
	man.Index = src.index
	if err := WriteManifest(stage, man); err != nil {
		return err
	}
	if err := s.download(ctx, stage, man, todo, o, res); err != nil {
		return err
	}
	return s.commitStage(m, stage, man)
}

// commitStage marks stage complete (its manifest says so, the clone marker
// is gone) and puts it in place of m's folder.
func (s *Store) commitStage(m *Model, stage string, man *Manifest) error {
	man.Complete = true
	man.PulledAt = time.Now().UTC()
	os.Remove(filepath.Join(stage, filepath.FromSlash(cloneMarker)))
	if err := WriteManifest(stage, man); err != nil {
		return err
	}
	if err := s.swap(m.Name, stage, m.Dir); err != nil {
		return err
	}
	m.Manifest = man
	return nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// stageClone makes sure stage holds a complete clone of entry (at target when
// set), reusing one left by an interrupted pull. branch is the branch to
// clone; "" means the index's, or the remote's default branch when the
// index's does not exist (with a note naming both).
// With pin, target may be any commit of the branch, not only its tip.
func (s *Store) stageClone(ctx context.Context, stage string, entry *registry.Entry, branch, target string, pin bool, o PullOptions) (ci cloneInfo, cloned bool, err error) {
	// A staging folder is ours: anything else found under its name (a link
	// to elsewhere) is dropped, never followed.
	if fi, err := os.Lstat(stage); err == nil && !fi.IsDir() {
		if err := os.Remove(stage); err != nil {
			return ci, false, err
		}
	}
	wanted := branch
	if wanted == "" {
		wanted = entry.Branch()
	}
	if readJSON(filepath.Join(stage, filepath.FromSlash(cloneMarker)), &ci) == nil &&
		ci.URL == entry.GitHub && (ci.wanted() == wanted || ci.Branch == wanted) && (target == "" || ci.Commit == target) {
		// A fresh pull resumes the staged clone unless the branch moved on
		// (e.g. a broken init.json was fixed); without network it resumes anyway.
		tip := ci.Commit
		if target == "" {
			if t, err := fetch.RemoteHead(ctx, entry.GitHub, ci.Branch, s.Net); err == nil {
				tip = t
			} else if ctx.Err() != nil {
				return ci, false, ctx.Err()
			} else {
				o.note("could not check %s for changes: %v", entry.GitHub, err)
			}
		}
		if tip == ci.Commit {
			o.note("resuming the interrupted download of %s", entry.Name)
			return ci, false, nil
		}
		o.note("%s changed since the interrupted download (now at %s); starting over", entry.Name, short(tip))
	}
	if err := os.RemoveAll(stage); err != nil {
		return ci, false, err
	}
	clone := func(b string) (string, error) {
		co := fetch.CloneOptions{URL: entry.GitHub, Branch: b, Dir: stage, Progress: o.Clone, Timeouts: s.Net}
		if pin {
			co.Commit = target
			o.note("cloning %s (branch %s, commit %s)", entry.GitHub, b, short(target))
		} else {
			o.note("cloning %s (branch %s)", entry.GitHub, b)
		}
		return fetch.Clone(ctx, co)
	}
	ci = cloneInfo{URL: entry.GitHub, Branch: wanted}
	commit, err := clone(wanted)
	if errors.Is(err, fetch.ErrBranchNotFound) && branch == "" {
		// The index names a branch the repository does not have (the
		// notebook repositories have only "main" where the index says
		// "master"): clone the default branch, and record it.
		def, derr := fetch.DefaultBranch(ctx, entry.GitHub)
		if derr == nil && def != wanted {
			os.RemoveAll(stage)
			o.note("%s has no branch %q (the index's github_branch); cloning its default branch %q instead", entry.GitHub, wanted, def)
			ci = cloneInfo{URL: entry.GitHub, Branch: def, Wanted: wanted}
			commit, err = clone(def)
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		os.RemoveAll(stage)
		return ci, false, err
	}
	// Our bookkeeping folder is ours alone: drop one the repository may carry.
	if err := os.RemoveAll(filepath.Join(stage, ".modelhub")); err != nil {
		return ci, false, err
	}
	ci.Commit = commit
	if err := writeJSON(stage, cloneMarker, ci); err != nil {
		return ci, false, err
	}
	return ci, true, nil
}

// plan builds the staging manifest and the list of files still to download:
// files finished by an interrupted run are kept, and on update files whose
// src_url did not change are linked from the current version.
func (s *Store) plan(stage string, entry *registry.Entry, commit string, in *config.Init, cur *Manifest, curDir string, res *PullResult) (*Manifest, []int, error) {
	staged, _ := ReadManifest(stage)
	man := &Manifest{Entry: *entry, Commit: commit, DockerID: in.DockerID}
	var todo []int
	for _, f := range in.Files {
		dest, err := config.SafeDest(stage, f.Dest)
		if err != nil {
			return nil, nil, err
		}
		rel, err := filepath.Rel(stage, dest)
		if err != nil {
			return nil, nil, err
		}
		mf := ManifestFile{Path: filepath.ToSlash(rel), SrcURL: f.SrcURL, SHA256: strings.ToLower(f.SHA256), Pinned: f.SHA256 != ""}
		if p := staged.file(mf.Path); reusable(p, f, dest) {
			mf = *p
			res.Reused++
		} else if c := cur.file(mf.Path); reusable(c, f, filepath.Join(curDir, rel)) {
			if err := s.linkOrCopy(filepath.Join(curDir, rel), dest); err != nil {
				return nil, nil, fmt.Errorf("keep %s from the current version: %w", mf.Path, err)
			}
			mf = *c
			res.Reused++
		} else {
			todo = append(todo, len(man.Files))
		}
		mf.Pinned = f.SHA256 != ""
		man.Files = append(man.Files, mf)
	}
	return man, todo, nil
}

// reusable: the recorded file came from the same URL, is complete, still has
// its size on disk and matches the expected sha256 if one is given.
func reusable(mf *ManifestFile, f config.ExternalFile, path string) bool {
	if mf == nil || !mf.Complete || mf.SrcURL != f.SrcURL {
		return false
	}
	if f.SHA256 != "" && !strings.EqualFold(mf.SHA256, f.SHA256) {
		return false
	}
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == mf.Size
}

// download fetches man.Files[todo...] into dir, recording each finished file
// in dir's manifest at once so an interrupted run does not fetch it again.
func (s *Store) download(ctx context.Context, dir string, man *Manifest, todo []int, o PullOptions, res *PullResult) error {
	if len(todo) == 0 {
		return nil
	}
	files := make([]fetch.File, len(todo))
	for i, k := range todo {
		mf := man.Files[k]
		files[i] = fetch.File{URL: mf.SrcURL, Dest: filepath.Join(dir, filepath.FromSlash(mf.Path)), SHA256: mf.SHA256, Root: dir}
	}
	if o.Files != nil {
		o.Files(files)
	}
	var werr error
	d := &fetch.Downloader{Client: o.HTTPClient, Jobs: o.Jobs, Timeouts: s.Net}
	d.Progress = func(e fetch.Event) {
		switch e.Kind {
		case fetch.FileBytes:
			res.Downloaded += e.Bytes
		case fetch.FileDone:
			mf := &man.Files[todo[e.Index]]
			mf.Size, mf.SHA256, mf.ETag, mf.LastModified, mf.Complete = e.Result.Size, e.Result.SHA256, e.Result.ETag, e.Result.LastModified, true
			res.Fetched++
			if err := WriteManifest(dir, man); err != nil && werr == nil {
				werr = err
			}
		}
		if o.Download != nil {
			o.Download(e)
		}
	}
	if _, err := d.Download(ctx, files); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return werr
}

// repair re-fetches, in place, the files of a complete model whose size on
// disk no longer matches the manifest; the others are never fetched again.
func (s *Store) repair(ctx context.Context, m *Model, man *Manifest, o PullOptions, res *PullResult) (*PullResult, error) {
	if err := CheckFolder(m); err != nil {
		return nil, err
	}
	todo := man.Changed(m.Dir)
	m.Manifest = man
	if len(todo) == 0 {
		res.UpToDate = true
		return res, nil
	}
	o.note("%d file(s) of %s changed on disk; fetching them again", len(todo), m.Name)
	pins := sync.OnceValue(func() map[string]string { return initPins(m.Dir) })
	for _, k := range todo {
		f := &man.Files[k]
		f.Complete = false
		// The repair must match init.json's pin, never only what the
		// server sends now; a hash that was merely computed is dropped.
		if !f.Pinned {
			f.SHA256 = pins()[f.Path]
			f.Pinned = f.SHA256 != ""
		}
	}
	res.Reused = len(man.Files) - len(todo)
	if err := s.download(ctx, m.Dir, man, todo, o, res); err != nil {
		return nil, err
	}
	return res, WriteManifest(m.Dir, man)
}

// initPins returns the sha256 pins of the model folder's init.json by
// manifest path: the pins of a manifest written before they were recorded
// in it (Pinned). A folder whose init.json cannot be read gives none.
func initPins(dir string) map[string]string {
	pins := map[string]string{}
	in, err := config.LoadInit(dir)
	if err != nil {
		return pins
	}
	for _, f := range in.Files {
		dest, err := config.SafeDest(dir, f.Dest)
		if err != nil || f.SHA256 == "" {
			continue
		}
		if rel, err := filepath.Rel(dir, dest); err == nil {
			pins[filepath.ToSlash(rel)] = strings.ToLower(f.SHA256)
		}
	}
	return pins
}

// swap puts stage at final atomically enough: a previous version is moved
// aside, the new one renamed in, the old one removed. recoverSwap undoes a
// crash between the two renames.
func (s *Store) swap(name, stage, final string) error {
	if _, err := os.Stat(final); errors.Is(err, os.ErrNotExist) {
		return os.Rename(stage, final)
	}
	old := s.oldDir(name)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(final, old); err != nil {
		return fmt.Errorf("replace %s: %w", final, err)
	}
	if err := os.Rename(stage, final); err != nil {
		_ = os.Rename(old, final)
		return fmt.Errorf("replace %s: %w", final, err)
	}
	return os.RemoveAll(old)
}

// recoverSwap restores the previous version when a crash happened between
// moving it aside and renaming the new one in, and removes leftovers.
func (s *Store) recoverSwap(name, final string) {
	old := s.oldDir(name)
	if _, err := os.Stat(old); err != nil {
		return
	}
	if _, err := os.Stat(final); errors.Is(err, os.ErrNotExist) && IsComplete(old) {
		_ = os.Rename(old, final)
		return
	}
	_ = os.RemoveAll(old)
}

// linkOrCopy hard-links src to dst, or copies it where links do not work;
// both are inside the models folder, and dst is created through an os.Root
// confined to it after checking no link is on its path.
func (s *Store) linkOrCopy(src, dst string) error {
	r, err := os.OpenRoot(s.ModelsDir())
	if err != nil {
		return err
	}
	defer r.Close()
	var rel [2]string
	for i, p := range []string{src, dst} {
		q, err := filepath.Rel(s.ModelsDir(), p)
		if err != nil || !filepath.IsLocal(q) {
			return fmt.Errorf("%s is not inside %s", p, s.ModelsDir())
		}
		rel[i] = filepath.ToSlash(q)
	}
	if err := safepath.CheckLinks(r, rel[1]); err != nil {
		return err
	}
	if err := r.MkdirAll(path.Dir(rel[1]), 0o755); err != nil {
		return err
	}
	r.Remove(rel[1])
	if r.Link(rel[0], rel[1]) == nil {
		return nil
	}
	in, err := r.Open(rel[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := r.Create(rel[1])
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
