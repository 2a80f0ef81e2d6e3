// Package dicomwebtest is a small DICOMweb server for tests (QIDO-RS,
// WADO-RS and STOW-RS over files held in memory) with basic authentication.
// It is no PACS: the conformance suite tests against Orthanc.
package dicomwebtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom"
)

// Instance is one stored DICOM file with the study attributes QIDO answers.
type Instance struct {
	Study, Series, SOP string
	Modality           string
	SeriesDescription  string
	SeriesNumber       int
	StudyDescription   string
	StudyDate          string
	PatientName        string
	PatientID          string
	PatientBirthDate   string
	Data               []byte
}

// Server is the fake. User and Password, when set, are required (basic).
type Server struct {
	*httptest.Server
	User, Password string
	// Refuse, when set, refuses a stored instance with that failure reason
	// (non-zero).
	Refuse func(sop string) int
	// Delay, when set, is waited before each part of a WADO-RS answer
	// (the parts before it are flushed): a slow server.
	Delay time.Duration

	mu        sync.Mutex
	instances []Instance
	// Requests counts requests by "METHOD path".
	Requests map[string]int
}

// New starts a server on 127.0.0.1 (closed by the caller).
func New() *Server {
	s := &Server{Requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewTLS starts an HTTPS server on 127.0.0.1 with a certificate of its own
// (its CA: CertPEM).
func NewTLS() *Server {
	s := &Server{Requests: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// CertPEM is the HTTPS server's certificate, PEM-encoded (nil without TLS).
func (s *Server) CertPEM() []byte {
	if s.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// Add stores instances.
func (s *Server) Add(in ...Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances = append(s.instances, in...)
}

// Instances returns a copy of the stored instances.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Instance{}, s.instances...)
}

// URL of the DICOMweb root.
func (s *Server) Root() string { return s.URL + "/dicom-web" }

func el(vr string, v ...any) map[string]any {
	if len(v) == 0 || v[0] == "" {
		return map[string]any{"vr": vr}
	}
	return map[string]any{"vr": vr, "Value": v}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.Requests[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
	if s.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.User || p != s.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/dicom-web/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(rest, "/")
	if r.Method == http.MethodPost && len(parts) <= 2 && parts[0] == "studies" {
		s.stow(w, r)
		return
	}
	all := s.Instances()
	match := func(study, series, sop string) []Instance {
		var out []Instance
		for _, in := range all {
			if (study == "" || in.Study == study) && (series == "" || in.Series == series) && (sop == "" || in.SOP == sop) {
				out = append(out, in)
			}
		}
		return out
	}
	switch {
	case len(parts) == 1 && parts[0] == "studies":
		s.studies(w, all)
	case len(parts) == 3 && parts[0] == "studies" && parts[2] == "series":
		s.series(w, match(parts[1], "", ""))
	case len(parts) == 5 && parts[2] == "series" && parts[4] == "instances":
		var out []map[string]any
		for _, in := range match(parts[1], parts[3], "") {
			out = append(out, map[string]any{"00080018": el("UI", in.SOP)})
		}
		writeJSON(w, out)
	case len(parts) == 2 && parts[0] == "studies":
		s.multipart(w, match(parts[1], "", ""))
	case len(parts) == 4 && parts[2] == "series":
		s.multipart(w, match(parts[1], parts[3], ""))
	case len(parts) == 6 && parts[2] == "series" && parts[4] == "instances":
		s.multipart(w, match(parts[1], parts[3], parts[5]))
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	if v == nil || (fmt.Sprint(v) == "[]") {
		v = []any{}
	}
	w.Header().Set("Content-Type", "application/dicom+json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) studies(w http.ResponseWriter, all []Instance) {
	type agg struct {
		in        Instance
		series    map[string]bool
		mods      map[string]bool
		instances int
	}
	by := map[string]*agg{}
	var order []string
	for _, in := range all {
		a := by[in.Study]
		if a == nil {
			a = &agg{in: in, series: map[string]bool{}, mods: map[string]bool{}}
			by[in.Study] = a
			order = append(order, in.Study)
		}
		a.series[in.Series] = true
		a.mods[in.Modality] = true
		a.instances++
	}
	var out []map[string]any
	for _, uid := range order {
		a := by[uid]
		var mods []any
		for m := range a.mods {
			mods = append(mods, m)
		}
		sort.Slice(mods, func(i, j int) bool { return mods[i].(string) < mods[j].(string) })
		d := map[string]any{"0020000D": el("UI", uid), "00080020": el("DA", a.in.StudyDate), "00081030": el("LO", a.in.StudyDescription),
			"00080061": el("CS", mods...), "00201206": el("IS", len(a.series)), "00201208": el("IS", a.instances)}
		if a.in.PatientName != "" {
			d["00100010"] = el("PN", map[string]string{"Alphabetic": a.in.PatientName})
		}
		// sent whether asked for or not, as real servers do
		if a.in.PatientID != "" {
			d["00100020"] = el("LO", a.in.PatientID)
		}
		if a.in.PatientBirthDate != "" {
			d["00100030"] = el("DA", a.in.PatientBirthDate)
		}
		out = append(out, d)
	}
	writeJSON(w, out)
}

func (s *Server) series(w http.ResponseWriter, ins []Instance) {
	count := map[string]int{}
	var order []Instance
	for _, in := range ins {
		if count[in.Series] == 0 {
			order = append(order, in)
		}
		count[in.Series]++
	}
	var out []map[string]any
	for _, in := range order {
		out = append(out, map[string]any{"0020000E": el("UI", in.Series), "00080060": el("CS", in.Modality),
			"0008103E": el("LO", in.SeriesDescription), "00200011": el("IS", in.SeriesNumber), "00201209": el("IS", count[in.Series])})
	}
	writeJSON(w, out)
}

func (s *Server) multipart(w http.ResponseWriter, ins []Instance) {
	if len(ins) == 0 {
		http.NotFound(w, nil)
		return
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	b := "fake" + hex.EncodeToString(rnd[:])
	w.Header().Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+b)
	mw := multipart.NewWriter(w)
	mw.SetBoundary(b)
	for _, in := range ins {
		if s.Delay > 0 {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			time.Sleep(s.Delay)
		}
		p, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			return // the client has gone (an interrupted fetch)
		}
		if _, err := p.Write(in.Data); err != nil {
			return
		}
	}
	mw.Close()
}

func (s *Server) stow(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" || params["type"] != "application/dicom" {
		http.Error(w, "want multipart/related; type=application/dicom", http.StatusUnsupportedMediaType)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var ok, failed []any
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data, _ := io.ReadAll(p)
		rd, err := dicom.ReadHeader(bytes.NewReader(data))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := rd.Header()
		item := map[string]any{"00081150": el("UI", h.SOPClassUID), "00081155": el("UI", h.SOPInstanceUID)}
		if s.Refuse != nil {
			if code := s.Refuse(h.SOPInstanceUID); code != 0 {
				item["00081197"] = el("US", code)
				failed = append(failed, item)
				continue
			}
		}
		s.Add(Instance{Study: h.StudyInstanceUID, Series: h.SeriesInstanceUID, SOP: h.SOPInstanceUID, Modality: h.Modality,
			SeriesDescription: h.SeriesDescription, Data: data})
		ok = append(ok, item)
	}
	out := map[string]any{}
	if len(ok) > 0 {
		out["00081199"] = el("SQ", ok...)
	}
	status := http.StatusOK
	if len(failed) > 0 {
		out["00081198"] = el("SQ", failed...)
		status = http.StatusAccepted
		if len(ok) == 0 {
			status = http.StatusConflict
		}
	}
	w.Header().Set("Content-Type", "application/dicom+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}
