//go:build unix

package dicom

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/nifti"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The PACS tests of issue 27 against Debian's Orthanc with its DICOMweb
// plugin (testutil.StartOrthanc: 127.0.0.1, storage in a temporary folder,
// authentication on), with pydicom-made series uploaded through its REST
// API. The real engine's part (predict --store with the mask model) is in
// conformance/pacs_engine_test.go.

// pacsEnv runs the real binary against an Orthanc with a model whose
// engine (a stand-in on 127.0.0.1, for predict --engine) answers each
// volume's number of slices.
type pacsEnv struct {
	t      *testing.T
	dir    string
	o      *testutil.Orthanc
	model  string
	engine string
	env    []string
}

const sliceModelConfig = `{"id": "5c1d2e3f-0000-4000-8000-000000000027", "meta": {"name": "slices"},
 "model": {"io": {"input": {"format": ["application/json"], "image": {"format": ["application/nii-gzip"]}},
  "output": [{"name": "slices", "type": "vector"}]}}}`

func newPacsEnv(t *testing.T) *pacsEnv {
	need(t, "pydicom")
	o := testutil.StartOrthanc(t)
	p := &pacsEnv{t: t, dir: t.TempDir(), o: o}
	p.model = filepath.Join(p.dir, "model")
	for f, data := range map[string]string{"init/init.json": `{"id": "5c1d2e3f-0000-4000-8000-000000000027", "docker_id": "none:1", "name": "slices"}`,
		"contrib_src/model/config.json": sliceModelConfig} {
		os.MkdirAll(filepath.Join(p.model, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(p.model, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(sliceEngine)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	p.engine = "http://" + l.Addr().String()
	p.env = append(os.Environ(), "HOME="+p.dir, "XDG_CONFIG_HOME="+p.dir, "XDG_CACHE_HOME="+p.dir, "XDG_DATA_HOME="+p.dir,
		"MODELHUB_HOME="+filepath.Join(p.dir, "mh"), "MODELHUB_CACHE="+filepath.Join(p.dir, "cache"), "NO_COLOR=1",
		"MODELHUB_PACS_USER="+o.User, "MODELHUB_PACS_PASSWORD="+o.Password)
	return p
}

// sliceEngine answers a case {"image": {"fileurl": PATH}} with the NIfTI's
// number of slices.
func sliceEngine(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/get_config":
		io.WriteString(w, sliceModelConfig)
	case "/api/predict":
		f, _, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			return
		}
		var doc struct {
			Image struct {
				FileURL string `json:"fileurl"`
			} `json:"image"`
		}
		json.NewDecoder(f).Decode(&doc)
		im, err := nifti.ReadFile(doc.Image.FileURL)
		if err != nil {
			fmt.Fprintf(w, `{"error": %q}`, err.Error())
			return
		}
		fmt.Fprintf(w, `{"output": [{"name": "slices", "type": "vector", "shape": [1], "prediction": [%d]}]}`, im.Dims[2])
	default:
		w.WriteHeader(404)
	}
}

// mh runs the binary; patient data in its output fails the test.
func (p *pacsEnv) mh(extraEnv []string, args ...string) (string, string, error) {
	p.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(append([]string{}, p.env...), extraEnv...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if !strings.Contains(strings.Join(args, " "), "--show-phi") {
		for _, v := range []string{"SECRET", "PLANTED", "90210"} {
			if dicomtest.HasPlanted(stdout.String()+stderr.String(), v) {
				p.t.Fatalf("patient data %q in the output of modelhub %s:\n%s%s", v, strings.Join(args, " "), stdout.String(), stderr.String())
			}
		}
	}
	return stdout.String(), stderr.String(), err
}

// series makes a pydicom series (make_series.py CASE ARGS...) and uploads it.
func (p *pacsEnv) series(name string, args ...string) string {
	dir := filepath.Join(p.dir, "src", name)
	run(p.t, python, append([]string{"testdata/make_series.py", dir}, args...)...)
	p.o.Upload(p.t, dir)
	return dir
}

type lsStudy struct {
	UID         string   `json:"study_uid"`
	Modalities  []string `json:"modalities"`
	Series      int      `json:"series"`
	Instances   int      `json:"instances"`
	PatientName string   `json:"patient_name"`
}

// studyOf is the UID of the study whose instance count is n.
func (p *pacsEnv) studyOf(n int) string {
	p.t.Helper()
	out, stderr, err := p.mh(nil, "pacs", "ls", p.o.DICOMweb, "--json")
	if err != nil {
		p.t.Fatalf("pacs ls --json: %v\n%s", err, stderr)
	}
	var studies []lsStudy
	if err := json.Unmarshal([]byte(out), &studies); err != nil {
		p.t.Fatalf("%v: %s", err, out)
	}
	for _, s := range studies {
		if s.Instances == n {
			return s.UID
		}
	}
	p.t.Fatalf("no study of %d instances: %s", n, out)
	return ""
}

// pacs ls against Orthanc: the studies with their modalities, series and
// instance counts, no patient name unless --show-phi (the planted one then);
// a study's series; a wrong password and an unknown study in one line each.
func TestOrthancPacsLs(t *testing.T) {
	p := newPacsEnv(t)
	p.series("oblique", "oblique")
	p.series("aniso", "aniso")
	p.series("brats", "brats")
	out, stderr, err := p.mh(nil, "pacs", "ls", p.o.DICOMweb)
	if err != nil {
		t.Fatalf("pacs ls: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^STUDY UID +DATE +MODALITIES +DESCRIPTION +SERIES +INSTANCES$`).MatchString(lines[0]) {
		t.Fatalf("pacs ls:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^[0-9.]+ +\S* *CT +1 +9$`).MatchString(out) {
		t.Fatalf("pacs ls: no study of one CT series of 9 instances:\n%s", out)
	}
	out, _, err = p.mh(nil, "pacs", "ls", p.o.DICOMweb, "--show-phi")
	if err != nil || strings.Count(out, "SECRET^PLANTED^NAME") != 4 {
		t.Fatalf("pacs ls --show-phi: %v\n%s", err, out)
	}
	uid := p.studyOf(9 + 8 + 7 + 6 + 3) // brats' first case
	out, _, err = p.mh(nil, "pacs", "ls", p.o.DICOMweb, "--study", uid)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^[0-9.]+ +1 +CT +AX T1 +9$`, `(?m)^[0-9.]+ +2 +CT +AX T1 POST GD +8$`, `(?m)^[0-9.]+ +9 +CT +Localizer +3$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("pacs ls --study: no %s in\n%s", want, out)
		}
	}
	_, stderr, err = p.mh([]string{"MODELHUB_PACS_PASSWORD=b4dpass"}, "pacs", "ls", p.o.DICOMweb)
	if err == nil || stderr != fmt.Sprintf("modelhub: the DICOMweb server %s refused the user and password (401): wrong user or password; fix MODELHUB_PACS_USER and MODELHUB_PACS_PASSWORD\n", strings.TrimPrefix(p.o.URL, "http://")) {
		t.Fatalf("wrong password: %v\n%s", err, stderr)
	}
	_, stderr, err = p.mh(nil, "pacs", "ls", p.o.DICOMweb, "--study", "1.2.3.4.5")
	if err == nil || !regexp.MustCompile(`^modelhub: study 1\.2\.3\.4\.5 not found on the DICOMweb server 127\.0\.0\.1:\d+ \(404\)[^\n]*\n$`).MatchString(stderr) {
		t.Fatalf("unknown study: %v\n%s", err, stderr)
	}
	_, stderr, err = p.mh(nil, "predict", p.model, "--engine", p.engine, "--from", p.o.DICOMweb, "--study", "1.2.3.4.5", "-o", filepath.Join(p.dir, "out404"))
	if err == nil || !regexp.MustCompile(`\nmodelhub: study 1\.2\.3\.4\.5 not found on the DICOMweb server 127\.0\.0\.1:\d+ \(404\)[^\n]*\n$`).MatchString(stderr) {
		t.Fatalf("predict on an unknown study: %v\n%s", err, stderr)
	}
}

// throttle is a TCP proxy in front of addr that passes the server's bytes
// at about rate bytes/s, so that a test can stop the server mid-answer.
func throttle(t *testing.T, addr string, rate int) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// An Orthanc stopped in the middle of a fetch: predict fails in one line
// saying how much is on disk and to rerun; with Orthanc back, the rerun
// fetches only what was missing and predicts. The fetched study is the
// same as dcm2niix sees it (every slice there).
func TestOrthancStoppedMidFetchResumes(t *testing.T) {
	p := newPacsEnv(t)
	p.series("ct", "ct", "80", "512")
	uid := p.studyOf(80)
	proxy := "http://" + throttle(t, strings.TrimPrefix(p.o.URL, "http://"), 8<<20) + "/dicom-web"
	out := filepath.Join(p.dir, "out")
	cmd := exec.Command(binPath, "predict", p.model, "--engine", p.engine, "--from", proxy, "--study", uid, "-o", out)
	cmd.Env = p.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var stopped atomic.Bool
	deadline := time.Now().Add(2 * time.Minute)
	for !stopped.Load() && time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(p.dir, "cache", "pacs", "*", uid, "*", "*.dcm"))
		if len(m) >= 10 {
			p.o.Stop()
			stopped.Store(true)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("predict ended before Orthanc was stopped: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !stopped.Load() {
		t.Fatalf("the fetch did not start within 2 minutes:\n%s", stderr.String())
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("predict succeeded with Orthanc stopped mid-fetch:\n%s", stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("predict did not end within 2 minutes of Orthanc stopping:\n%s", stderr.String())
	}
	re := regexp.MustCompile(`(?m)^modelhub: fetch series [0-9.]+ of study [0-9.]+ from 127\.0\.0\.1:\d+: after \d+ of 80 instance\(s\): [^\n]+; (\d+) of 80 instance\(s\) of the study are on disk, rerun to resume$`)
	m := re.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("want one line saying the fetch stopped and to rerun:\n%s", stderr.String())
	}
	t.Logf("stopped: %s", strings.TrimSpace(stderr.String()))
	if err := p.o.Start(); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := p.mh(nil, "predict", p.model, "--engine", p.engine, "--from", proxy, "--study", uid, "-o", out, "--json")
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, errOut)
	}
	re2 := regexp.MustCompile(`(?m)^study [0-9.]+: (\d+) instance\(s\) in 1 series fetched now \(.*\), (\d+) already on disk$`)
	m2 := re2.FindStringSubmatch(errOut)
	if m2 == nil || m2[2] != m[1] || m2[2] == "0" {
		t.Fatalf("rerun: want the %s instances on disk kept:\n%s", m[1], errOut)
	}
	if !strings.Contains(errOut, "1 done now, 0 done before, 0 failed, 0 unsupported") {
		t.Fatalf("rerun:\n%s", errOut)
	}
	data, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
	if !strings.Contains(string(data), `"prediction": [80]`) && !strings.Contains(string(data), `"prediction":[80]`) {
		t.Fatalf("the model did not see 80 slices: %s", data)
	}
}
