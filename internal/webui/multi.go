package webui

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// stagingDir is where uploads for a multi-input model wait, inside the model's
// contrib_src (the only host folder the container sees), for one prediction.
const stagingDir = ".modelhub-ui"

// predictMulti runs a multi-input model on one uploaded file per named input.
// The engine reads a multi-input request as a JSON file mapping each input to
// a "fileurl" it can open; the files are staged in the model's contrib_src
// (mounted at /contrib_src), named in that JSON, and removed afterwards.
func (s *Server) predictMulti(w http.ResponseWriter, r *http.Request, m Model) {
	if m.APIURL == "" {
		writeError(w, http.StatusNotFound, m.Name+" runs without a REST API")
		return
	}
	if m.ContribSrc == "" {
		writeError(w, http.StatusNotImplemented, "uploading files to a multi-input model needs its folder on this computer; run it on a sample instead")
		return
	}
	var mio modelIO
	if err := s.getJSON(r.Context(), m, engine.RouteModelIO, &mio); err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	views, multi := inputs(mio.Input)
	if !multi {
		writeError(w, http.StatusBadRequest, m.Name+" takes a single input: POST it to api/predict")
		return
	}
	formats := map[string][]string{}
	for _, v := range views {
		formats[v.Name] = v.MIME
	}
	root, err := os.OpenRoot(m.ContribSrc)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "open the model folder: "+err.Error())
		return
	}
	defer root.Close()
	dir, err := newStaging(root)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "stage the uploads: "+err.Error())
		return
	}
	defer func() {
		_ = root.RemoveAll(dir)
		_ = root.Remove(stagingDir) // only when empty: another prediction may be staging
	}()
	files, err := s.saveParts(r, root, dir, formats)
	if err != nil {
		uiError(w, statusOf(err), err.Error())
		return
	}
	req := map[string]any{"format": []string{"application/json"}}
	var notes []string
	for _, name := range sortedKeys(files) {
		f := files[name]
		req[name] = map[string]any{"type": []string{f.ctype}, "format": []string{f.ctype}, "fileurl": "/contrib_src/" + f.path}
		if f.note != "" {
			notes = append(notes, name+": "+f.note)
		}
	}
	if len(notes) > 0 {
		w.Header().Set(headerConversion, url.PathEscape(strings.Join(notes, "; ")))
	}
	spec, _ := json.MarshalIndent(req, "", "  ")
	s.postPart(w, r.Context(), m, "input.json", "application/json", bytes.NewReader(spec), int64(len(spec)))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// newStaging creates contrib_src/.modelhub-ui/RANDOM through root (no symbolic
// link the repository placed there is followed) and returns its path in root.
func newStaging(root *os.Root) (string, error) {
	if err := root.Mkdir(stagingDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if fi, err := root.Lstat(stagingDir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s in the model folder is not a folder", stagingDir)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	dir := path.Join(stagingDir, hex.EncodeToString(b))
	return dir, root.Mkdir(dir, 0o755)
}

// saveParts writes one multipart file per input into dir and returns, per
// input, the staged file (its path relative to contrib_src, its type, and the
// conversion done). Every input must have a file. A DICOM file or zipped
// series for an input the server can convert for is converted outside the
// model folder first; only the result is staged.
func (s *Server) saveParts(r *http.Request, root *os.Root, dir string, formats map[string][]string) (map[string]upload, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errUpload{fmt.Errorf("want a multipart form with one file per input: %v", err)}
	}
	tmp, err := os.MkdirTemp("", "modelhub-ui-upload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	files := map[string]upload{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errUpload{fmt.Errorf("read the upload: %v", err)}
		}
		name := p.FormName()
		if _, ok := formats[name]; !ok || p.FileName() == "" {
			p.Close()
			continue
		}
		if _, dup := files[name]; dup {
			p.Close()
			return nil, errUpload{fmt.Errorf("two files for input %s: send one", name)}
		}
		sub := filepath.Join(tmp, safeName(name))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return nil, err
		}
		up, err := s.receive(r.Context(), p, sub, formats[name])
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		ctype := up.ctype
		if up.note == "" || ctype == "" {
			ctype = firstOr(formats[name], ctype)
		}
		file := path.Join(dir, safeName(name)+extOf(up.name))
		if err := stage(root, file, up.path); err != nil {
			return nil, fmt.Errorf("stage %s: %v", name, err)
		}
		files[name] = upload{path: file, name: up.name, ctype: ctype, note: up.note}
	}
	var missing []string
	for name := range formats {
		if _, ok := files[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, errUpload{fmt.Errorf("a file is missing for input %s: the model needs one file per input", strings.Join(missing, ", "))}
	}
	return files, nil
}

// firstOr is the first of list, else def.
func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// stage copies the file at src to file in root (never through a link).
func stage(root *os.Root, file, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := root.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// safeName keeps letters, digits, '-' and '_' of an input name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// extOf is the extension of an uploaded file's name (.nii.gz counts whole),
// which the engine uses to tell the format.
func extOf(name string) string {
	e := strings.ToLower(filetype.Ext(strings.ReplaceAll(name, "\\", "/")))
	if len(e) > 10 || strings.ContainsAny(e, " /\\") {
		return ""
	}
	return e
}
