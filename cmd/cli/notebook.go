package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelhub-ai/modelhub/internal/notebook"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// Notebook models (the index's backend "colab": Google Colab notebooks, not
// Docker models). pull clones their repository and exits 0; run and test
// create no container: they clone it too (to find the notebook), print its
// links and exit 1, since nothing was started or tested.

// notebookJSON is the "notebook" object of `pull --json` for a notebook model.
type notebookJSON struct {
	Path   string `json:"path"`
	Local  string `json:"local"`
	GitHub string `json:"github_url"`
	Colab  string `json:"colab_url"`
}

// errNotebook is run's and test's answer for a notebook model.
func errNotebook(name, what string) error {
	return fmt.Errorf("%s is a Google Colab notebook, not a Docker model: there is nothing to %s; open the notebook with the links above", name, what)
}

// notebookLinks finds the links of the downloaded notebook model m.
func notebookLinks(m *store.Model) (notebook.Links, error) {
	url, branch := "", ""
	if man := m.Manifest; man != nil {
		url, branch = man.Entry.GitHub, man.Branch
		if branch == "" {
			branch = man.Entry.Branch()
		}
	} else if m.Entry != nil {
		url, branch = m.Entry.GitHub, m.Entry.Branch()
	}
	return notebook.Find(m.Dir, url, branch)
}

// printNotebook says that m is a notebook and prints its links on stdout,
// one `Label: value` line each.
func printNotebook(ios *IOStreams, m *store.Model, l notebook.Links) {
	ios.Notef("%s is a Google Colab notebook, not a Docker model: open it in Colab (or locally in Jupyter)", m.Name)
	for _, row := range [][2]string{{"Notebook", l.Path}, {"GitHub", l.GitHub}, {"Colab", l.Colab}, {"Local", l.Local}} {
		if row[1] != "" {
			fprintf(ios.Out, "%s: %s\n", row[0], row[1])
		}
	}
}

// runNotebook is run of a notebook model: clone it if needed, print its
// links, start nothing; the error makes the exit status 1.
func runNotebook(ctx context.Context, ios *IOStreams, st *store.Store, m *store.Model, what string) error {
	if !m.Complete() {
		pp := newPullProgress(ios)
		res, err := st.Pull(ctx, m, pp.options(store.PullOptions{}))
		pp.close()
		if err != nil {
			return err
		}
		m = res.Model
	}
	l, err := notebookLinks(m)
	if err != nil && !errors.Is(err, notebook.ErrNoNotebook) {
		return err
	}
	printNotebook(ios, m, l)
	return errNotebook(m.Name, what)
}

// pullNotebook reports the pull of a notebook model: its links (or, with
// --json, out with the "notebook" object) and its folder; exit 0.
func pullNotebook(opts *PullOptions, m *store.Model, out pullJSON) error {
	l, err := notebookLinks(m)
	if err != nil && !errors.Is(err, notebook.ErrNoNotebook) {
		return err
	}
	if opts.JSON {
		out.Notebook = &notebookJSON{Path: l.Path, Local: l.Local, GitHub: l.GitHub, Colab: l.Colab}
		return writeJSON(opts.IO.Out, out)
	}
	printNotebook(opts.IO, m, l)
	fprintf(opts.IO.Out, "%s\n", m.Dir)
	return nil
}

// notebookFolder returns, for `test`, an error naming the links when the
// model folder dir holds a notebook model (its manifest or config.json says
// so); the links are printed on stdout too unless asJSON.
func notebookFolder(ios *IOStreams, dir, name string, asJSON bool) error {
	m := &store.Model{Name: name, Dir: dir}
	if man, err := store.ReadManifest(dir); err == nil && man.Complete {
		m.Manifest = man
	}
	if !m.IsNotebook() {
		return nil
	}
	l, err := notebookLinks(m)
	if err != nil && !errors.Is(err, notebook.ErrNoNotebook) {
		return err
	}
	if !asJSON {
		printNotebook(ios, m, l)
	}
	where := l.Colab
	if where == "" {
		where = l.Local
	}
	if where == "" {
		return fmt.Errorf("%s is a Google Colab notebook, not a Docker model: there is nothing to test", name)
	}
	return fmt.Errorf("%s is a Google Colab notebook, not a Docker model: there is nothing to test; open it at %s", name, where)
}
