package webui

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
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
	formats := map[string]string{}
	for _, v := range views {
		var sp ioSpec
		_ = json.Unmarshal(mio.Input[v.Name], &sp)
		f := ""
		if len(sp.Format) > 0 {
			f = sp.Format[0]
		}
		formats[v.Name] = f
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
	files, err := saveParts(r, root, dir, formats)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req := map[string]any{"format": []string{"application/json"}}
	for name, file := range files {
		req[name] = map[string]any{"type": []string{formats[name]}, "format": []string{formats[name]}, "fileurl": "/contrib_src/" + file}
	}
	spec, _ := json.MarshalIndent(req, "", "  ")
	s.postJSONFile(w, r.Context(), m, spec)
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
// input, its path relative to contrib_src. Every input must have a file.
func saveParts(r *http.Request, root *os.Root, dir string, formats map[string]string) (map[string]string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("want a multipart form with one file per input: %v", err)
	}
	files := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the upload: %v", err)
		}
		name := p.FormName()
		if _, ok := formats[name]; !ok || p.FileName() == "" {
			p.Close()
			continue
		}
		file := path.Join(dir, safeName(name)+extOf(p.FileName()))
		f, err := root.Create(file)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %v", name, err)
		}
		_, err = io.Copy(f, p)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("stage %s: %v", name, err)
		}
		files[name] = file
	}
	var missing []string
	for name := range formats {
		if _, ok := files[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("a file is missing for input %s: the model needs one file per input", strings.Join(missing, ", "))
	}
	return files, nil
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

// postJSONFile sends spec to the engine's predict route as the uploaded file
// input.json and relays the answer.
func (s *Server) postJSONFile(w http.ResponseWriter, ctx context.Context, m Model, spec []byte) {
	ctx, cancel := context.WithTimeout(ctx, s.predictTimeout())
	defer cancel()
	resp, err := s.engine(m).Upload(ctx, bytes.NewReader(spec), int64(len(spec)), "input.json", "application/json")
	if err != nil {
		writeError(w, http.StatusBadGateway, "the engine of "+m.Name+" did not answer: "+err.Error())
		return
	}
	defer resp.Body.Close()
	out := resp.Header.Clone()
	confineHeaders(out, engine.RoutePredict)
	out.Del("Content-Length") // relayed as read
	for k, v := range out {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
