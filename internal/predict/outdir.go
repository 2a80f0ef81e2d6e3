package predict

import (
	"errors"
	"fmt"
	"os"

	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// The output folder (-o DIR) may come prepared by someone else (a cohort
// shipped with a results/ folder): every file predict writes or reads in it
// — results.jsonl, provenance.json and its temporary file, the output files
// and their .part — goes through an os.Root of the folder, after checking
// that nothing on the path is a symbolic link (or another special file). A
// planted link is refused, never followed, wherever it points.

// ErrOutLink is wrapped by the refusal of a link in the output folder.
var ErrOutLink = errors.New("link in the output folder")

// OutLinkError: a path predict would write in the output folder goes
// through a symbolic link (or a special file) already there.
type OutLinkError struct {
	Dir  string // the output folder
	Link *safepath.LinkError
}

func (e *OutLinkError) Error() string {
	what := "a symbolic link or special file"
	if e.Link.Target != "" {
		what = fmt.Sprintf("a symbolic link (to %q)", e.Link.Target)
	}
	if e.Link.NotDir {
		what = "a file where a folder is needed"
	}
	return fmt.Sprintf("%q in the output folder %s is %s: predict never writes through links in its output folder; remove it or choose another folder with -o", e.Link.Link, e.Dir, what)
}

func (e *OutLinkError) Unwrap() error { return ErrOutLink }

// checkOut makes sure none of rels (slash-separated, relative to root, the
// output folder dir) goes through a link or special file.
func checkOut(root *os.Root, dir string, rels ...string) error {
	for _, rel := range rels {
		if err := safepath.CheckLinks(root, rel); err != nil {
			var le *safepath.LinkError
			if errors.As(err, &le) {
				return &OutLinkError{Dir: dir, Link: le}
			}
			return err
		}
	}
	return nil
}

// CheckOutDir refuses an output folder holding a link where predict writes
// its own files (results.jsonl, provenance.json and its temporary file); a
// missing folder is fine. predict calls it before anything starts.
func CheckOutDir(dir string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	return checkOut(root, dir, ResultsFile, ProvenanceFile, ProvenanceFile+".tmp", CSVFile, "report.html")
}
