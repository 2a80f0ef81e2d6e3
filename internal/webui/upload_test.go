package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeConvert converts an upload whose content starts with "DICOM:" into a
// .png holding the rest, fails for "BAD", and leaves the others alone.
func fakeConvert(calls *[]ConvertRequest) ConvertFunc {
	return func(ctx context.Context, req ConvertRequest) (*Converted, error) {
		*calls = append(*calls, req)
		b, err := os.ReadFile(req.Path)
		if err != nil {
			return nil, err
		}
		switch {
		case bytes.HasPrefix(b, []byte("BAD")):
			return nil, errors.New("the zip holds 2 series: zip one")
		case !bytes.Contains(b, []byte("DICOM:")):
			return nil, nil
		}
		out := filepath.Join(req.Dir, "Chest_1a2b3c4d.png")
		if err := os.WriteFile(out, b[bytes.Index(b, []byte("DICOM:"))+6:], 0o600); err != nil {
			return nil, err
		}
		return &Converted{Path: out, Type: "image/png", Note: `series 1a2b3c4d "Chest; PA" → PNG`}, nil
	}
}

func postUpload(t *testing.T, s *Server, path, field, name string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	r := httptest.NewRequest("POST", path, &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", "http://127.0.0.1:8800")
	return serve(t, s, r)
}

// dicomBytes is a file with DICOM's preamble and magic, then rest.
func dicomBytes(rest string) []byte {
	return append(append(make([]byte, 128), "DICM"...), rest...)
}

func TestPredictUpload(t *testing.T) {
	e := newFakeEngine(t)
	var got []string
	e.predict = func(name string, data []byte) (int, any) {
		got = append(got, name+" "+string(data))
		return 200, labelPrediction("ok", 1, "no", 0)
	}
	var calls []ConvertRequest
	s := testServer(Model{Name: "m", Mode: "api", APIURL: e.URL()})
	s.Convert = fakeConvert(&calls)

	// a DICOM file is converted, sent under the converted name, and the answer says how
	w := postUpload(t, s, "/m/m/_ui/predict_upload", "file", "IM0001.dcm", dicomBytes("DICOM:png bytes"))
	if w.Code != 200 || len(got) != 1 || got[0] != "Chest_1a2b3c4d.png png bytes" {
		t.Fatalf("%d %s; the engine got %q", w.Code, w.Body, got)
	}
	if note, _ := url.PathUnescape(w.Header().Get(headerConversion)); note != `series 1a2b3c4d "Chest; PA" → PNG` {
		t.Errorf("conversion header %q", w.Header().Get(headerConversion))
	}
	if len(calls) != 1 || calls[0].Name != "IM0001.dcm" || strings.Join(calls[0].Formats, ",") != "image/png,image/jpeg" {
		t.Errorf("converter called with %+v", calls)
	}
	// its files are gone afterwards
	if _, err := os.Stat(calls[0].Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the converter's folder stays: %v", err)
	}

	// a zip the converter refuses: the UI's own error, the engine not asked
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "file", "study.zip", []byte("BAD zip"))
	var e1 struct{ Error string }
	_ = json.Unmarshal(w.Body.Bytes(), &e1)
	if w.Code != 400 || w.Header().Get(headerUIError) != "1" || e1.Error != "cannot convert study.zip: the zip holds 2 series: zip one" || len(got) != 1 {
		t.Errorf("%d %q %s", w.Code, w.Header(), w.Body)
	}

	// a file the converter does not take goes as it is, under its own name
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "file", `..\x/other.zip`, []byte("PK\x03\x04 not convertible"))
	if w.Code != 200 || len(got) != 2 || got[1] != "other.zip PK\x03\x04 not convertible" || w.Header().Get(headerConversion) != "" {
		t.Errorf("%d %s; the engine got %q", w.Code, w.Body, got)
	}
	// a PNG is not even shown to the converter
	n := len(calls)
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "file", "a.png", []byte("\x89PNG"))
	if w.Code != 200 || len(calls) != n || got[2] != "a.png \x89PNG" {
		t.Errorf("%d %s; calls %d", w.Code, w.Body, len(calls)-n)
	}

	// a model that takes DICOM itself gets the file as it is
	e.io = `{"input": {"format": ["application/dicom"]}, "output": []}`
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "file", "IM0001.dcm", dicomBytes("DICOM:x"))
	if w.Code != 200 || len(calls) != n || !strings.HasPrefix(got[3], "IM0001.dcm ") {
		t.Errorf("%d %s; calls %d", w.Code, w.Body, len(calls)-n)
	}

	// without a converter the route still takes files
	s.Convert = nil
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "file", "b.dcm", dicomBytes("DICOM:x"))
	if w.Code != 200 || !strings.HasPrefix(got[4], "b.dcm ") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	// no file: said so
	w = postUpload(t, s, "/m/m/_ui/predict_upload", "other", "b.dcm", []byte("x"))
	if w.Code != 400 || !strings.Contains(w.Body.String(), `no file in the upload (form field \"file\")`) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestModelPageOffersDICOM(t *testing.T) {
	e := newFakeEngine(t)
	s := testServer(Model{Name: "m", Mode: "api", APIURL: e.URL()})
	page := func() string {
		w := serve(t, s, httptest.NewRequest("GET", "/m/m/", nil))
		return w.Body.String()
	}
	if p := page(); strings.Contains(p, "data-convert") || strings.Contains(p, ".zip") {
		t.Errorf("a UI without a converter offers DICOM")
	}
	s.Convert = fakeConvert(new([]ConvertRequest))
	p := page()
	if !strings.Contains(p, `data-convert="1"`) || !strings.Contains(p, `accept="image/png,.png,image/jpeg,.jpg,.jpeg,.dcm,.zip,application/dicom,application/zip"`) ||
		!strings.Contains(p, "or a DICOM file or a .zip of one DICOM series, converted for the model") {
		t.Errorf("page:\n%s", p)
	}
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["application/nii-gzip"]}, "seg": {"format": ["application/octet-stream"]}}, "output": []}`
	s = testServer(Model{Name: "m", Mode: "api", APIURL: e.URL(), ContribSrc: t.TempDir()})
	s.Convert = fakeConvert(new([]ConvertRequest))
	p = page()
	if !strings.Contains(p, `name="t1" accept="application/nii-gzip,.nii.gz,.gz,.dcm,.zip`) || strings.Contains(p, `name="seg" accept="application/octet-stream,.dcm`) || !strings.Contains(p, `id="dicom-hint"`) {
		t.Errorf("page:\n%s", p)
	}
}

// A multi-input model: a DICOM upload is converted outside the model folder
// and only the converted file is staged; the JSON names its type.
func TestPredictMultiConverts(t *testing.T) {
	e := newFakeEngine(t)
	e.io = `{"input": {"format": ["application/json"], "t1": {"format": ["image/png"]}, "flair": {"format": ["image/png"]}}, "output": []}`
	contrib := t.TempDir()
	var staged []string
	e.predict = func(name string, data []byte) (int, any) {
		var spec map[string]struct {
			Type    []string
			FileURL string `json:"fileurl"`
		}
		_ = json.Unmarshal(data, &spec)
		for _, in := range []string{"flair", "t1"} {
			b, _ := os.ReadFile(filepath.Join(contrib, strings.TrimPrefix(spec[in].FileURL, "/contrib_src/")))
			staged = append(staged, in+" "+spec[in].Type[0]+" "+filepath.Base(spec[in].FileURL)+" "+string(b))
		}
		return 200, prediction(map[string]any{"name": "x", "type": "custom", "prediction": 1})
	}
	var calls []ConvertRequest
	s := testServer(Model{Name: "mi", Mode: "api", APIURL: e.URL(), ContribSrc: contrib})
	s.Convert = fakeConvert(&calls)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("t1", "t1.dcm")
	_, _ = fw.Write(dicomBytes("DICOM:converted t1"))
	fw, _ = mw.CreateFormFile("flair", "flair.png")
	_, _ = io.WriteString(fw, "\x89PNG flair")
	_ = mw.Close()
	r := httptest.NewRequest("POST", "/m/mi/_ui/predict_multi", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", "http://127.0.0.1:8800")
	w := serve(t, s, r)
	if w.Code != 200 || strings.Join(staged, "|") != "flair image/png flair.png \x89PNG flair|t1 image/png t1.png converted t1" {
		t.Fatalf("%d %s; staged %q", w.Code, w.Body, staged)
	}
	if note, _ := url.PathUnescape(w.Header().Get(headerConversion)); note != `t1: series 1a2b3c4d "Chest; PA" → PNG` {
		t.Errorf("conversion %q", note)
	}
	if entries, _ := os.ReadDir(contrib); len(entries) != 0 {
		t.Errorf("left in contrib_src: %v", entries)
	}
	// a refused conversion names the input
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("t1", "t1.zip")
	_, _ = io.WriteString(fw, "BAD")
	_ = mw.Close()
	r = httptest.NewRequest("POST", "/m/mi/_ui/predict_multi", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", "http://127.0.0.1:8800")
	w = serve(t, s, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "input t1: cannot convert t1.zip: the zip holds 2 series: zip one") || w.Header().Get(headerUIError) != "1" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}
