// Package notebook recognises the index's notebook entries — Google Colab
// notebooks (backend "colab"), not Docker models — and finds their links.
package notebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/registry"
)

// Backend is the index backend that marks a notebook entry.
const Backend = "colab"

// configPath is the model's config.json, relative to its folder.
const configPath = config.ConfigPath

// IsEntry reports whether the index entry is a notebook: its backend list
// names "colab". It needs nothing but the index.
func IsEntry(m *registry.Entry) bool {
	if m == nil {
		return false
	}
	return slices.ContainsFunc(m.Backend, func(b string) bool { return strings.EqualFold(strings.TrimSpace(b), Backend) })
}

// ColabLink returns config.json's meta.colab_link in the model folder dir,
// or "" when there is none.
func ColabLink(dir string) string {
	// Never a plain read: a FIFO there would block for ever.
	data, err := config.ReadRegularFile(filepath.Join(dir, filepath.FromSlash(configPath)))
	if err != nil {
		return ""
	}
	var cfg struct {
		Meta struct {
			ColabLink string `json:"colab_link"`
		} `json:"meta"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return ""
	}
	return strings.TrimSpace(cfg.Meta.ColabLink)
}

// IsFolder reports whether the model folder dir holds a notebook model:
// its config.json has meta.colab_link.
func IsFolder(dir string) bool { return ColabLink(dir) != "" }

// Links are where a notebook can be opened.
type Links struct {
	// Path is the notebook's path in the repository (slash-separated).
	Path string
	// Local is the notebook in the model folder, when it is there.
	Local string
	// GitHub is the notebook's page on GitHub, Colab the same notebook opened
	// in Google Colab; both are empty for a repository not on GitHub.
	GitHub, Colab string
}

// ErrNoNotebook: the folder has no notebook and config.json names none.
var ErrNoNotebook = errors.New("no notebook (.ipynb) found")

// Find returns the links of the notebook of the model folder dir, cloned
// from repoURL at branch. The notebook is config.json's meta.colab_link when
// it has one (a github.com …/blob/BRANCH/PATH.ipynb link), else the first
// .ipynb in the repository (outside contrib_src, which holds the template's
// sandbox). The links name the branch actually cloned.
func Find(dir, repoURL, branch string) (Links, error) {
	var l Links
	owner, repo, onGitHub := gitHubRepo(repoURL)
	if link := ColabLink(dir); link != "" {
		if o, r, _, p, ok := parseBlob(link); ok {
			l.Path = p
			if !onGitHub {
				owner, repo, onGitHub = o, r, true
			}
		}
	}
	if l.Path == "" {
		p, err := firstNotebook(dir)
		if err != nil {
			return l, err
		}
		l.Path = p
	}
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(l.Path))); err == nil && fi.Mode().IsRegular() {
		l.Local = filepath.Join(dir, filepath.FromSlash(l.Path))
	}
	if onGitHub && branch != "" {
		rel := owner + "/" + repo + "/blob/" + branch + "/" + escapePath(l.Path)
		l.GitHub = "https://github.com/" + rel
		l.Colab = "https://colab.research.google.com/github/" + rel
	}
	return l, nil
}

// gitHubRepo splits https://github.com/OWNER/REPO(.git) into owner and repo.
func gitHubRepo(repoURL string) (owner, repo string, ok bool) {
	u, err := url.Parse(repoURL)
	if err != nil || !strings.EqualFold(u.Host, "github.com") {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], strings.TrimSuffix(parts[1], ".git"), true
}

// parseBlob splits https://github.com/OWNER/REPO/blob/BRANCH/PATH.
func parseBlob(link string) (owner, repo, branch, p string, ok bool) {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Host, "github.com") {
		return "", "", "", "", false
	}
	parts := strings.SplitN(strings.Trim(u.Path, "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "blob" || !strings.HasSuffix(parts[4], ".ipynb") {
		return "", "", "", "", false
	}
	clean := path.Clean(parts[4])
	if clean == "." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
		return "", "", "", "", false
	}
	return parts[0], parts[1], parts[3], clean, true
}

// firstNotebook is the first .ipynb under dir in path order, outside
// contrib_src, .git and .modelhub.
func firstNotebook(dir string) (string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == ".modelhub" || rel == config.ContribSrc {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(strings.ToLower(rel), ".ipynb") && d.Type().IsRegular() {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("look for the notebook in %s: %w", dir, err)
	}
	if len(found) == 0 {
		return "", fmt.Errorf("%s: %w and config.json has no meta.colab_link", dir, ErrNoNotebook)
	}
	sort.Strings(found)
	return found[0], nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
