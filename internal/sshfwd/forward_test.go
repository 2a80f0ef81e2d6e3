package sshfwd_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/sshfwd"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A port of the ssh server's loopback answers on this machine's loopback.
func TestForward(t *testing.T) {
	sshd := testutil.StartSSHD(t)
	t.Setenv("PATH", sshd.PathWith())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	defer srv.Close()
	remote, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	f, err := sshfwd.Start(sshd.URL, []sshfwd.Port{{Local: 0, Remote: remote}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	local := f.Ports()[0].Local
	if local == 0 {
		t.Fatal("no local port picked")
	}
	var wg sync.WaitGroup
	for i := range 5 { // concurrent connections each get their own ssh
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/x%d", local, i))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != fmt.Sprintf("hello /x%d", i) {
				t.Errorf("through the forward: %q", b)
			}
		}()
	}
	wg.Wait()
	f.Close()
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", local)); err == nil {
		t.Error("the local port still answers after Close")
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := sshfwd.Start("tcp://x:1", []sshfwd.Port{{Remote: 1}}); err == nil {
		t.Error("a tcp URL was accepted for ssh forwarding")
	}
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	port, _ := strconv.Atoi(busy.URL[strings.LastIndex(busy.URL, ":")+1:])
	_, err := sshfwd.Start("ssh://me@server", []sshfwd.Port{{Local: port, Remote: 80}})
	if err == nil || !strings.Contains(err.Error(), "--api-port") {
		t.Errorf("a busy local port: %v", err)
	}
}
