package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
	"github.com/modelhub-ai/modelhub/internal/webui"
)

func Test_NewCmdUI_flags(t *testing.T) {
	for _, tc := range []struct {
		args, want, wantErr string
	}{
		{args: "", want: "port=8800 set=false open=false"},
		{args: "--ui-port 9000 --open", want: "port=9000 set=true open=true"},
		{args: "-p 9001", want: "port=9001 set=true open=false"},
		// --port: the old name, kept (deprecated, hidden)
		{args: "--port 9002", want: "port=9002 set=true open=false"},
		{args: "--port 9002 --ui-port 9002", want: "port=9002 set=true open=false"},
		{args: "--port 9002 --ui-port 9003", wantErr: "--port 9002 and --ui-port 9003 disagree"},
		{args: "--ui-port 0", wantErr: "--ui-port 0: a port is a number from 1 to 65535"},
		{args: "--ui-port 70000", wantErr: "a port is a number"},
		{args: "extra", wantErr: "unknown command"},
	} {
		got := flagCase(t, NewCmdUI, tc.args, tc.wantErr, true)
		if got == nil {
			continue
		}
		if s := "port=" + strconv.Itoa(got.Port) + " set=" + strconv.FormatBool(got.PortSet) + " open=" + strconv.FormatBool(got.Open); s != tc.want {
			t.Errorf("%q: %s, want %s", tc.args, s, tc.want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func Test_uiRun(t *testing.T) {
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"meta": {"name": "alpha"}, "path": "`+r.URL.Path+`"}`)
	}))
	defer engine.Close()
	list := []dockerrun.Container{
		{Name: "modelhub-alpha", Model: "alpha", Mode: "api", APIURL: engine.URL, Running: true},
		{Name: "modelhub-nb", Model: "nb", Mode: "expert", NotebookURL: "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=t", Running: true},
	}
	d := &testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) { return list, nil }}
	f, out, errOut := testFactory(t, "[]", false, 0)
	docker := func(ctx context.Context) (dockerrun.API, error) { return d, nil }
	var opened string
	f.OpenURL = func(u string) error { opened = u; return nil }
	port := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- uiRun(ctx, &UIOptions{IO: f.IO, Docker: docker, OpenURL: f.OpenURL, Port: port, PortSet: true, Open: true})
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	testutil.WaitHTTP(t, base+"/", 10*time.Second)
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, `href="/m/alpha/">alpha</a>`) || !strings.Contains(body, `href="/m/nb/_ui/notebook"`) || strings.Contains(body, "token=") {
		t.Errorf("index: %d %s", code, body)
	}
	if code, body := get(t, base+"/m/alpha/api/get_config"); code != 200 || !strings.Contains(body, `"path": "/api/get_config"`) {
		t.Errorf("proxy: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		// the normal end: exit 130 without an error line
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitInterrupted || !ee.Silent {
			t.Errorf("uiRun after Ctrl-C: %v, want a silent exit 130", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("uiRun did not return after Ctrl-C")
	}
	if got, want := out.String(), "Web UI: "+base+"/\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if opened != base+"/" {
		t.Errorf("opened %q", opened)
	}
	if !strings.Contains(errOut.String(), "press Ctrl+C to stop") {
		t.Errorf("stderr %q", errOut.String())
	}
}

func Test_listenUI(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	// an explicit busy port is an error naming the flag
	if _, _, err := listenUI(port, true, "--ui-port"); err == nil || !strings.Contains(err.Error(), "choose another port with --ui-port") {
		t.Errorf("explicit busy port: %v", err)
	}
	// a busy default takes the next free port, with a note
	l, note, err := listenUI(port, false, "--ui-port")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Addr().(*net.TCPAddr).Port; got <= port {
		t.Errorf("port %d, want one after %d", got, port)
	}
	if !strings.Contains(note, "port "+strconv.Itoa(port)+" is busy; the web UI uses") {
		t.Errorf("note %q", note)
	}
}

func Test_detachedUIURL(t *testing.T) {
	f, _, errOut := testFactory(t, "[]", false, 0)
	l, err := webui.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	port := webui.Port(l)
	o := &RunOptions{IO: f.IO, UIPort: port, Detach: true}
	// nothing answers: no URL, a note naming `modelhub ui`
	l.Close()
	if got := detachedUIURL(context.Background(), o, "m"); got != "" || !strings.Contains(errOut.String(), "run `modelhub ui`") {
		t.Errorf("no ui: %q, stderr %q", got, errOut.String())
	}
	// a modelhub ui answers at --ui-port: its page of the model
	l, err = webui.Listen(port)
	if err != nil {
		t.Skip("the port was taken meanwhile:", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- (&webui.Server{Models: webui.Fixed()}).Serve(ctx, l) }()
	defer func() { cancel(); <-done }()
	if got, want := detachedUIURL(context.Background(), o, "a b"), "http://127.0.0.1:"+strconv.Itoa(port)+"/m/a%20b/"; got != want {
		t.Errorf("with a ui: %q, want %q", got, want)
	}
	// --no-ui, or a notebook: nothing
	o.NoUI = true
	if got := detachedUIURL(context.Background(), o, "m"); got != "" {
		t.Errorf("--no-ui: %q", got)
	}
}
