package webui

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// Medical uploads. A model takes PNG images or NIfTI volumes; a user has a
// DICOM file or a zipped DICOM series. The UI itself knows nothing of DICOM:
// the server's Convert (set by the command that serves the UI) turns such an
// upload into the model's format, the same way `modelhub predict` does, and
// the page says what was done.

// ConvertRequest is an upload to convert for one input of a model.
type ConvertRequest struct {
	Path    string   // the upload, saved on disk
	Name    string   // its file name as the browser sent it (untrusted)
	Formats []string // the formats the input takes (the model's MIME types)
	Dir     string   // an empty folder for the converter's files; removed afterwards
}

// Converted is what a converter made of an upload.
type Converted struct {
	Path string // the file to send to the model (in the request's Dir)
	Type string // its MIME type
	Note string // what was done, in words, without patient data
}

// ConvertFunc converts an upload. It returns nil and no error when the upload
// is not one it converts (it then goes to the model as it is); an error says
// why the upload cannot become the model's input and what to upload instead.
type ConvertFunc func(ctx context.Context, req ConvertRequest) (*Converted, error)

// Headers of the UI's own answers to an upload.
const (
	// headerConversion says what was done to the upload (URL-escaped text).
	headerConversion = "X-Modelhub-Conversion"
	// headerUIError marks an error of the UI itself (not of the engine).
	headerUIError = "X-Modelhub-Ui-Error"
)

// convertible reports whether a converter can make an input of these formats
// from DICOM: the model takes images or NIfTI volumes, not DICOM itself.
func convertible(formats []string) bool {
	ok := false
	for _, f := range formats {
		switch strings.ToLower(f) {
		case filetype.DICOM:
			return false
		case filetype.PNG, filetype.JPEG, "image/jpg", filetype.NII, filetype.NIIGzip:
			ok = true
		}
	}
	return ok
}

// looksMedical reports whether an upload may be one to convert: a DICOM file
// (DICM at byte 128, or a .dcm name) or a zip archive.
func looksMedical(head []byte, name string) bool {
	lower := strings.ToLower(name)
	return len(head) >= 132 && string(head[128:132]) == "DICM" ||
		bytes.HasPrefix(head, []byte("PK\x03\x04")) ||
		strings.HasSuffix(lower, ".dcm") || strings.HasSuffix(lower, ".zip")
}

// uiError answers with an error of the UI (a failed conversion): the page
// shows it as it is, not as the engine's.
func uiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set(headerUIError, "1")
	writeError(w, status, msg)
}

// predictUpload runs a single-input model on one uploaded file (the form
// field "file"), converted first when it is a DICOM file or a zipped series.
func (s *Server) predictUpload(w http.ResponseWriter, r *http.Request, m Model) {
	if m.APIURL == "" {
		uiError(w, http.StatusNotFound, m.Name+" runs without a REST API")
		return
	}
	var mio modelIO
	if err := s.getJSON(r.Context(), m, "/api/get_model_io", &mio); err != nil {
		uiError(w, http.StatusBadGateway, err.Error())
		return
	}
	views, multi := inputs(mio.Input)
	if multi {
		uiError(w, http.StatusBadRequest, m.Name+" takes several inputs: send one file per input to _ui/predict_multi")
		return
	}
	dir, err := os.MkdirTemp("", "modelhub-ui-upload-")
	if err != nil {
		uiError(w, http.StatusInternalServerError, "save the upload: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	r.Body = http.MaxBytesReader(nil, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		uiError(w, http.StatusBadRequest, "want a multipart form with the file: "+err.Error())
		return
	}
	var up *upload
	for up == nil {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			uiError(w, http.StatusBadRequest, "read the upload: "+err.Error())
			return
		}
		if p.FormName() == "file" && p.FileName() != "" {
			up, err = s.receive(r.Context(), p, dir, views[0].MIME)
			if err != nil {
				uiError(w, statusOf(err), err.Error())
				return
			}
		}
		p.Close()
	}
	if up == nil {
		uiError(w, http.StatusBadRequest, "no file in the upload (form field \"file\")")
		return
	}
	if up.note != "" {
		w.Header().Set(headerConversion, url.PathEscape(up.note))
	}
	s.postFile(w, r.Context(), m, up.name, up.ctype, up.path)
}

// upload is a received file, converted or as it came.
type upload struct {
	path, name, ctype string
	note              string // the conversion done, "" for none
}

// errUpload marks a problem with what was uploaded (a client error).
type errUpload struct{ error }

func statusOf(err error) int {
	var e errUpload
	if errors.As(err, &e) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// receive saves the part into dir and, when it looks like DICOM or a zip and
// the server has a converter for formats, converts it.
func (s *Server) receive(ctx context.Context, p *multipart.Part, dir string, formats []string) (*upload, error) {
	name := baseName(p.FileName())
	ctype := p.Header.Get("Content-Type")
	br := bufio.NewReaderSize(p, 4096)
	head, _ := br.Peek(132)
	medical := s.Convert != nil && convertible(formats) && looksMedical(head, name)
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o700); err != nil {
		return nil, err
	}
	saved := filepath.Join(dir, "in", "upload"+extOf(name))
	f, err := os.OpenFile(saved, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(f, br)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errUpload{fmt.Errorf("%s is larger than %d MiB, more than the web UI takes: use `modelhub predict`", name, maxUpload>>20)}
		}
		return nil, fmt.Errorf("save the upload: %v", err)
	}
	up := &upload{path: saved, name: name, ctype: ctype}
	if !medical {
		return up, nil
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, err
	}
	c, err := s.Convert(ctx, ConvertRequest{Path: saved, Name: name, Formats: formats, Dir: work})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errUpload{fmt.Errorf("cannot convert %s: %v", name, err)}
	}
	if c == nil {
		return up, nil
	}
	return &upload{path: c.Path, name: filepath.Base(c.Path), ctype: c.Type, note: c.Note}, nil
}

// baseName is the last element of a browser-sent file name ("upload" when
// nothing usable is left).
func baseName(name string) string {
	b := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if b == "." || b == "/" || b == "" {
		return "upload"
	}
	return b
}

// postFile sends the file at p to the engine's predict route as the
// uploaded file name (streamed, not held in memory) and relays the answer.
func (s *Server) postFile(w http.ResponseWriter, ctx context.Context, m Model, name, ctype, p string) {
	f, err := os.Open(p)
	if err != nil {
		uiError(w, http.StatusInternalServerError, "read the upload: "+err.Error())
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		uiError(w, http.StatusInternalServerError, "read the upload: "+err.Error())
		return
	}
	s.postPart(w, ctx, m, name, ctype, f, fi.Size())
}

// postPart sends size bytes of body to the engine's predict route as the
// uploaded file name and relays the answer, confined like every proxied
// answer.
func (s *Server) postPart(w http.ResponseWriter, ctx context.Context, m Model, name, ctype string, body io.Reader, size int64) {
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	ctx, cancel := context.WithTimeout(ctx, s.predictTimeout())
	defer cancel()
	resp, err := s.engine(m).Upload(ctx, body, size, name, ctype)
	if err != nil {
		msg := "the engine of " + m.Name + " did not answer: " + err.Error()
		if ctx.Err() == context.DeadlineExceeded {
			msg = "the engine of " + m.Name + " did not answer within " + s.predictTimeout().String()
		}
		writeError(w, http.StatusBadGateway, msg)
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
