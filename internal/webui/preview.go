package webui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Preview is an engine's output file drawn for the page: one PNG per plane
// (a 2-D image has one, a volume its three middle slices), and whether a mask
// has no labelled pixel at all.
type Preview struct {
	Planes []PreviewPlane
	Blank  bool
}

// PreviewPlane is one drawn plane.
type PreviewPlane struct {
	Name string // "image", "axial", "coronal", "sagittal"
	PNG  []byte
}

// PreviewFunc draws the file at path (a .png, or an array the engine saved
// as .h5 or .npy) as kind: "mask" (labels in colour on transparency), "heat"
// (a colour map) or "gray".
type PreviewFunc func(ctx context.Context, path, kind string) (*Preview, error)

// maxPreviewFile bounds an output file the server fetches to draw.
const maxPreviewFile = 512 << 20

var outputName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$`)

// servePreview answers GET _ui/preview?file=NAME&kind=KIND: the engine's
// /api/output/NAME drawn by s.Preview, as {"planes": [{"name", "src"}],
// "blank"} with each plane a data: URL, or {"error"}.
func (s *Server) servePreview(w http.ResponseWriter, r *http.Request, m Model) {
	if s.Preview == nil {
		writeError(w, http.StatusNotImplemented, "this web UI cannot draw output files")
		return
	}
	name, kind := r.URL.Query().Get("file"), r.URL.Query().Get("kind")
	if !outputName.MatchString(name) || strings.Contains(name, "..") {
		writeError(w, http.StatusBadRequest, "file: want the name of an output under api/output/")
		return
	}
	switch kind {
	case "mask", "heat", "gray":
	default:
		writeError(w, http.StatusBadRequest, "kind: want mask, heat or gray")
		return
	}
	if m.APIURL == "" {
		writeError(w, http.StatusNotFound, m.Name+" runs without a REST API")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.engineTimeout())
	defer cancel()
	body, err := s.engine(m).OpenOutput(ctx, engine.OutputPrefix+name)
	var he *engine.HTTPError
	switch {
	case errors.As(err, &he):
		writeError(w, http.StatusBadGateway, fmt.Sprintf("the engine answered HTTP %d for the output file", he.Status))
		return
	case err != nil:
		writeError(w, http.StatusBadGateway, "the engine did not give the output file: "+err.Error())
		return
	}
	defer body.Close()
	f, err := os.CreateTemp("", "modelhub-preview-*")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(body, maxPreviewFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		writeError(w, http.StatusBadGateway, "read the output file: "+err.Error())
		return
	}
	if n > maxPreviewFile {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the output file is larger than %d MiB: download it instead", maxPreviewFile>>20))
		return
	}
	p, err := s.Preview(ctx, f.Name(), kind)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "cannot draw "+name+": "+err.Error())
		return
	}
	type plane struct {
		Name string `json:"name"`
		Src  string `json:"src"`
	}
	out := struct {
		Planes []plane `json:"planes"`
		Blank  bool    `json:"blank"`
	}{Blank: p.Blank}
	for _, pl := range p.Planes {
		out.Planes = append(out.Planes, plane{pl.Name, "data:image/png;base64," + base64.StdEncoding.EncodeToString(pl.PNG)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
