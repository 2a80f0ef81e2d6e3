package dicomweb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/dicomweb/dicomwebtest"
)

const study = "1.2.826.0.1.3680043.8.498.1"

// seriesInstances makes n small CT instances of a series.
func seriesInstances(t *testing.T, seriesUID, desc string, n int) []dicomwebtest.Instance {
	t.Helper()
	s := dicomtest.Series{StudyUID: study, SeriesUID: seriesUID, Modality: "CT", Description: desc, SeriesNumber: 1, Rows: 4, Columns: 3, Slices: n}
	var out []dicomwebtest.Instance
	for _, im := range s.Images() {
		sop := fmt.Sprintf("%s.%d", seriesUID, im.Instance)
		im.SOPInstanceUID = sop
		data, err := dicomtest.Encode(im)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dicomwebtest.Instance{Study: study, Series: seriesUID, SOP: sop, Modality: "CT", SeriesDescription: desc,
			SeriesNumber: 1, StudyDescription: "CHEST", StudyDate: "20240102", PatientName: dicomtest.PatientName, Data: data})
	}
	return out
}

func fake(t *testing.T) *dicomwebtest.Server {
	s := dicomwebtest.New()
	t.Cleanup(s.Close)
	s.User, s.Password = "alice", "s3cret"
	s.Add(seriesInstances(t, study+".1", "AX 5mm", 5)...)
	s.Add(seriesInstances(t, study+".2", "COR", 3)...)
	return s
}

func client(t *testing.T, url string, a Auth) *Client {
	t.Helper()
	c, err := New(url, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Limits.Idle = 2 * time.Second
	return c
}

var alice = Auth{User: "alice", Password: "s3cret", From: EnvUser + "/" + EnvPassword}

func TestQIDO(t *testing.T) {
	s := fake(t)
	c := client(t, s.Root(), alice)
	studies, err := c.Studies(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(studies) != 1 || studies[0].UID != study || studies[0].Series != 2 || studies[0].Instances != 8 || studies[0].Description != "CHEST" || studies[0].PatientName != "" {
		t.Fatalf("studies: %+v", studies)
	}
	studies, _ = c.Studies(context.Background(), true)
	if studies[0].PatientName != dicomtest.PatientName {
		t.Fatalf("with phi: %+v", studies)
	}
	series, err := c.Series(context.Background(), study)
	if err != nil || len(series) != 2 || series[0].Description != "AX 5mm" || series[0].Instances != 5 || series[0].Modality != "CT" {
		t.Fatalf("series: %+v %v", series, err)
	}
	_, err = c.Series(context.Background(), "1.2.3.4")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "study 1.2.3.4 not found on the DICOMweb server") {
		t.Fatalf("unknown study: %v", err)
	}
	if _, err := c.Series(context.Background(), "../../etc"); err == nil || !strings.Contains(err.Error(), "not a study UID") {
		t.Fatalf("bad UID: %v", err)
	}
}

func TestCredentialErrors(t *testing.T) {
	s := fake(t)
	for _, tc := range []struct {
		auth Auth
		want string
	}{
		{Auth{User: "alice", Password: "wrong", From: "MODELHUB_PACS_USER/MODELHUB_PACS_PASSWORD"}, "refused the user and password (401): wrong user or password; fix MODELHUB_PACS_USER/MODELHUB_PACS_PASSWORD"},
		{Auth{}, "wants credentials (401): set MODELHUB_PACS_USER and MODELHUB_PACS_PASSWORD, or MODELHUB_PACS_TOKEN"},
		{Auth{Token: "tok", From: "MODELHUB_PACS_TOKEN"}, "refused the token (401): wrong or expired token; fix MODELHUB_PACS_TOKEN"},
	} {
		_, err := client(t, s.Root(), tc.auth).Studies(context.Background(), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "wrong\"") || strings.Contains(err.Error(), "tok ") {
			t.Errorf("%+v: %v, want %q", tc.auth.From, err, tc.want)
		}
	}
	if _, err := New("http://bob:pw@127.0.0.1/dicom-web", Auth{}, nil); err == nil || strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "holds credentials") {
		t.Fatalf("credentials in the URL: %v", err)
	}
}

func files(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestFetchResumes(t *testing.T) {
	s := fake(t)
	c := client(t, s.Root(), alice)
	dest := filepath.Join(t.TempDir(), "study")
	var last Progress
	got, err := c.FetchStudy(context.Background(), study, dest, FetchOptions{Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Fetched != 8 || got.Present != 0 || last.Done != 8 || last.Total != 8 || len(got.Series) != 2 {
		t.Fatalf("fetched %+v, progress %+v", got, last)
	}
	fs := files(t, dest)
	if len(fs) != 8 || fs[0] != study+".1/"+study+".1.1.dcm" {
		t.Fatalf("files: %v", fs)
	}
	if s.Requests["GET /dicom-web/studies/"+study+"/series/"+study+".1"] != 1 {
		t.Fatalf("want one multipart request per series: %v", s.Requests)
	}
	// one instance lost (and a temp file left by a crash): only it is fetched again, alone
	os.Remove(filepath.Join(dest, study+".1", study+".1.3.dcm"))
	os.WriteFile(filepath.Join(dest, study+".1", ".fetch-0123.tmp"), []byte("half"), 0o644)
	got, err = c.FetchStudy(context.Background(), study, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Fetched != 1 || got.Present != 7 {
		t.Fatalf("rerun: %+v", got)
	}
	if s.Requests["GET /dicom-web/studies/"+study+"/series/"+study+".1/instances/"+study+".1.3"] != 1 || s.Requests["GET /dicom-web/studies/"+study+"/series/"+study+".1"] != 1 {
		t.Fatalf("rerun requests: %v", s.Requests)
	}
	if fs := files(t, dest); len(fs) != 8 {
		t.Fatalf("after rerun: %v", fs)
	}
	_, err = c.FetchStudy(context.Background(), "1.2.3.4", dest, FetchOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown study: %v", err)
	}
}

// hostile serves QIDO like the fake (series 1.2.3.1 of study 1.2.3, two
// instances) and answers the WADO-RS retrieve with wado.
func hostile(t *testing.T, wado http.HandlerFunc) (*Client, string) {
	good := seriesInstances(t, "1.2.3.1", "AX", 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/series") && r.Method == "GET":
			fmt.Fprint(w, `[{"0020000E":{"vr":"UI","Value":["1.2.3.1"]},"00201209":{"vr":"IS","Value":[2]}}]`)
		case strings.HasSuffix(r.URL.Path, "/instances"):
			fmt.Fprintf(w, `[{"00080018":{"vr":"UI","Value":[%q]}},{"00080018":{"vr":"UI","Value":[%q]}}]`, good[0].SOP, good[1].SOP)
		default:
			wado(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c := client(t, srv.URL+"/dicom-web", Auth{})
	c.Limits.Instance = 1 << 20
	dest := t.TempDir()
	_, err := c.FetchStudy(context.Background(), "1.2.3", dest, FetchOptions{})
	if err == nil {
		t.Fatal("hostile server: no error")
	}
	for _, f := range files(t, dest) {
		if strings.Contains(f, ".tmp") {
			t.Errorf("temporary file left: %s", f)
		}
	}
	return c, err.Error()
}

func instanceData(t *testing.T) [][]byte {
	var out [][]byte
	for _, in := range seriesInstances(t, "1.2.3.1", "AX", 2) {
		out = append(out, in.Data)
	}
	// the fake's instances are of study `study`; the hostile tests do not check it
	return out
}

func TestFetchHostile(t *testing.T) {
	data := instanceData(t)
	const b = "BOUNDARY"
	mp := `multipart/related; type="application/dicom"; boundary=` + b
	part := func(w io.Writer, d []byte) {
		fmt.Fprintf(w, "--%s\r\nContent-Type: application/dicom\r\n\r\n", b)
		w.Write(d)
		fmt.Fprint(w, "\r\n")
	}
	for _, tc := range []struct {
		name string
		wado http.HandlerFunc
		want string
	}{
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			fmt.Fprintf(w, "--%s\r\nContent-Type: application/dicom\r\n\r\n", b)
			chunk := make([]byte, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "larger than 1 MiB: refused"},
		{"endless preamble", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			chunk := []byte(strings.Repeat("x", 1000) + "\r\n")
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "where a part's headers or an instance should be"},
		{"bad boundary", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", `multipart/related; type="application/dicom"; boundary="`+strings.Repeat("z", 71)+`"`)
		}, "invalid boundary"},
		{"not multipart", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>")
		}, "not multipart/related DICOM"},
		{"dies mid-stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			part(w, data[0])
			fmt.Fprintf(w, "--%s\r\nContent-Type: application/dicom\r\n\r\n", b)
			w.Write(data[1][:100])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, "the connection closed in the middle of the answer"},
		{"goes quiet", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			part(w, data[0])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, "the server sent nothing for 2s"},
		{"extra parts", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			part(w, data[0])
			part(w, data[1])
			part(w, data[1])
			fmt.Fprintf(w, "--%s--\r\n", b)
		}, "more parts than the 2 instance(s) it listed"},
		{"not DICOM", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mp)
			part(w, []byte("hello"))
			fmt.Fprintf(w, "--%s--\r\n", b)
		}, "not a DICOM instance"},
		{"redirect elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.2:1/steal", http.StatusFound)
		}, "redirected to http://127.0.0.2:1, another server: refused"},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", 500)
		}, "answered 500 Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msg := hostile(t, tc.wado)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("got %q, want %q", msg, tc.want)
			}
		})
	}
}

func TestFetchStoppedServerResumes(t *testing.T) {
	s := fake(t)
	c := client(t, s.Root(), alice)
	dest := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := c.FetchStudy(ctx, study, dest, FetchOptions{Progress: func(p Progress) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	got, err := c.FetchStudy(context.Background(), study, dest, FetchOptions{})
	if err != nil || got.Present < 3 || got.Present == 8 || got.Present+got.Fetched != 8 {
		t.Fatalf("resume: %+v %v", got, err)
	}
}

func TestStore(t *testing.T) {
	s := fake(t)
	s.Refuse = func(sop string) int {
		if strings.HasSuffix(sop, ".2") {
			return 0xA900
		}
		return 0
	}
	c := client(t, s.Root(), alice)
	dir := t.TempDir()
	var paths []string
	for _, in := range seriesInstances(t, study+".9", "SEG", 2) {
		p := filepath.Join(dir, in.SOP+".dcm")
		os.WriteFile(p, in.Data, 0o644)
		paths = append(paths, p)
	}
	got, err := c.Store(context.Background(), study, paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Accepted || got[1].Accepted || !strings.Contains(got[1].Reason, "data set does not match SOP class (failure reason 0xA900") {
		t.Fatalf("stored: %+v", got)
	}
	if len(s.Instances()) != 9 {
		t.Fatalf("server holds %d instances, want 9", len(s.Instances()))
	}
	// every instance refused: 409 with the reasons
	s.Refuse = func(string) int { return 0x0110 }
	got, err = c.Store(context.Background(), study, paths)
	if err != nil || got[0].Accepted || !strings.Contains(got[0].Reason, "processing failure") {
		t.Fatalf("409: %+v %v", got, err)
	}
	// a file of another study is not sent
	if _, err := c.Store(context.Background(), "1.2.3", paths); err == nil || !strings.Contains(err.Error(), "not 1.2.3: not sent") {
		t.Fatalf("other study: %v", err)
	}
	// wrong password
	_, err = client(t, s.Root(), Auth{User: "alice", Password: "x", From: "pacs.password in settings.json"}).Store(context.Background(), study, paths)
	if err == nil || !strings.Contains(err.Error(), "fix pacs.password in settings.json") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestResolveAuth(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if a := ResolveAuth(get, "u", "p", "", "/s.json"); a.User != "u" || a.From != "pacs.user and pacs.password in /s.json" {
		t.Fatalf("settings: %+v", a)
	}
	env[EnvUser], env[EnvPassword] = "eu", "ep"
	if a := ResolveAuth(get, "u", "p", "", "/s.json"); a.User != "eu" || a.Password != "ep" || a.From != EnvUser+" and "+EnvPassword {
		t.Fatalf("env: %+v", a)
	}
	env[EnvToken] = "tk"
	if a := ResolveAuth(get, "u", "p", "", "/s.json"); a.Token != "tk" || a.User != "" {
		t.Fatalf("token: %+v", a)
	}
	if a := ResolveAuth(func(string) string { return "" }, "", "", "", ""); !a.Empty() {
		t.Fatalf("none: %+v", a)
	}
}

// A server whose QIDO answer gives no series' instance count: the fetch
// lists the series' instances first, and gets them all.
func TestFetchWithoutSeriesCount(t *testing.T) {
	s := fake(t)
	strip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		s.Config.Handler.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.String()
		if strings.HasSuffix(r.URL.Path, "/series") {
			body = strings.ReplaceAll(body, `"00201209"`, `"00201299"`)
		}
		io.WriteString(w, body)
	}))
	defer strip.Close()
	c := client(t, strip.URL+"/dicom-web", alice)
	got, err := c.FetchStudy(context.Background(), study, t.TempDir(), FetchOptions{})
	if err != nil || got.Fetched != 8 {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	if s.Requests["GET /dicom-web/studies/"+study+"/series/"+study+".1/instances"] != 1 || s.Requests["GET /dicom-web/studies/"+study+"/series/"+study+".1"] != 1 {
		t.Fatalf("requests: %v", s.Requests)
	}
}
