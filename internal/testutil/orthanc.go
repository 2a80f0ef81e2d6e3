//go:build unix

package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Orthanc is Debian's Orthanc PACS with its DICOMweb plugin on 127.0.0.1,
// its storage in a temporary folder, authentication on: the real PACS of
// the DICOMweb tests.
type Orthanc struct {
	URL            string // http://127.0.0.1:PORT (its REST API)
	DICOMweb       string // URL + "/dicom-web"
	User, Password string
	Dir            string // storage, index, configuration and log

	// LastContentType is the Content-Type of Get's last answer.
	LastContentType string

	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// EnvRequireOrthanc makes a missing Orthanc fail the tests instead of
// skipping them (.ci/run sets it after installing orthanc and
// orthanc-dicomweb).
const EnvRequireOrthanc = "MODELHUB_REQUIRE_ORTHANC"

// orthancPlugin is where Debian's orthanc-dicomweb puts its plugin.
var orthancPlugins = []string{"/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so*"}

func orthancBinary() string { return SystemProgram("Orthanc") }

// OrthancRefuseSEG is a Lua filter (for StartOrthancWith) failing on every
// SEG it is sent: an error, so Orthanc 1.10 answers STOW-RS 200 with the
// instance in neither sequence (a filter returning false is answered as a
// success).
const OrthancRefuseSEG = `function ReceivedInstanceFilter(dicom, origin, info)
  if dicom.Modality == 'SEG' then
    error('this PACS takes no SEG')
  end
  return true
end
`

func orthancPlugin() string {
	for _, g := range orthancPlugins {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

// OrthancUnavailable says why no test Orthanc can run here ("" when one can).
func OrthancUnavailable() string {
	switch {
	case orthancBinary() == "":
		return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)"
	case orthancPlugin() == "":
		return "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
	}
	return ""
}

// StartOrthanc starts an Orthanc for the test on a free port (user alice,
// password s3cret) and stops it when the test ends. It skips loudly when
// OrthancUnavailable says why, unless EnvRequireOrthanc is set.
func StartOrthanc(t testing.TB) *Orthanc { return StartOrthancWith(t, nil, "") }

// StartOrthancWith is StartOrthanc with extra configuration keys and, when
// lua is not empty, that Lua script loaded (e.g. a ReceivedInstanceFilter
// refusing some instances).
func StartOrthancWith(t testing.TB, extra map[string]any, lua string) *Orthanc {
	t.Helper()
	if why := OrthancUnavailable(); why != "" {
		SkipUnlessRequired(t, "PACS", why, EnvRequireOrthanc)
	}
	port := FreePort(t)
	o := &Orthanc{User: "alice", Password: "s3cret", Dir: t.TempDir(), port: port}
	o.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	o.DICOMweb = o.URL + "/dicom-web"
	cfg := map[string]any{
		"Name":                   "modelhub-test",
		"StorageDirectory":       filepath.Join(o.Dir, "db"),
		"IndexDirectory":         filepath.Join(o.Dir, "db"),
		"HttpPort":               port,
		"DicomServerEnabled":     false,
		"DicomPort":              FreePort(t),
		"RemoteAccessAllowed":    false,
		"AuthenticationEnabled":  true,
		"RegisteredUsers":        map[string]string{o.User: o.Password},
		"Plugins":                []string{orthancPlugin()},
		"DicomWeb":               map[string]any{"Enable": true, "Root": "/dicom-web/"},
		"HttpCompressionEnabled": false,
		"StorageCompression":     false,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	if lua != "" {
		p := filepath.Join(o.Dir, "filter.lua")
		if err := os.WriteFile(p, []byte(lua), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg["LuaScripts"] = []string{p}
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Dir, "orthanc.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	return o
}

// Start starts (or restarts, on the same port and storage) the server and
// waits at most a minute for it to answer.
func (o *Orthanc) Start() error {
	logf, err := os.OpenFile(filepath.Join(o.Dir, "orthanc.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(orthancBinary(), filepath.Join(o.Dir, "orthanc.json"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	o.cmd, o.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(o.done) }()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-o.done:
			return fmt.Errorf("Orthanc exited at start: %s", o.Log())
		default:
		}
		req, _ := http.NewRequest("GET", o.URL+"/dicom-web/studies", nil)
		req.SetBasicAuth(o.User, o.Password)
		c := &http.Client{Timeout: 2 * time.Second}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.Stop()
	return fmt.Errorf("Orthanc did not answer within a minute: %s", o.Log())
}

// Stop kills the server's process group and waits for it.
func (o *Orthanc) Stop() {
	if o.cmd == nil || o.cmd.Process == nil {
		return
	}
	syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
	}
	o.cmd = nil
}

// Log is the end of the server's log.
func (o *Orthanc) Log() string {
	b, _ := os.ReadFile(filepath.Join(o.Dir, "orthanc.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Upload stores DICOM files (and the files of folders, recursively)
// through Orthanc's REST API (POST /instances).
func (o *Orthanc) Upload(t testing.TB, paths ...string) int {
	t.Helper()
	n := 0
	for _, root := range paths {
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			req, _ := http.NewRequest("POST", o.URL+"/instances", bytes.NewReader(data))
			req.SetBasicAuth(o.User, o.Password)
			req.Header.Set("Content-Type", "application/dicom")
			resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "Success") {
				return fmt.Errorf("upload %s: %s %s", p, resp.Status, body)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// Get GETs path of the REST API (or of DICOMweb) with the credentials.
func (o *Orthanc) Get(t testing.TB, path, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", o.URL+path, nil)
	req.SetBasicAuth(o.User, o.Password)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o.LastContentType = resp.Header.Get("Content-Type")
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v %.300s", path, resp.Status, err, body)
	}
	return body
}
