package cli

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// portEngine is a TestEngine whose model publishes port and runs while running is set.
type portEngine struct {
	port    int
	running atomic.Int32
}

func (e *portEngine) Start(context.Context, string, string, time.Duration) (string, func(context.Context) error, error) {
	panic("not used by test -m")
}
func (e *portEngine) Running(context.Context, string) (int, error) { return int(e.running.Load()), nil }
func (e *portEngine) Port(context.Context, string) (int, error)    { return e.port, nil }

// A container of the model publishes the port but its engine does not listen
// yet (connection refused): test -m waits for it instead of failing at once.
func Test_waitManual_startingContainer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens: connection refused until the "engine" starts
	e := &portEngine{port: port}
	e.running.Store(1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
		t.Cleanup(func() { l.Close() })
	}()
	f, _, errOut := testFactory(t, "[]", false, 0)
	opts := &TestOptions{IO: f.IO, Model: "tiny", Manual: true, Port: port, Timeout: 30 * time.Second}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitManual(context.Background(), opts, e, "tiny", port, base); err != nil {
		t.Fatalf("a starting container was not waited for: %v", err)
	}
	if !strings.Contains(errOut.String(), "waiting up to 30s for tiny to answer at "+base) {
		t.Errorf("stderr %q", errOut.String())
	}
}

// The container goes away while it is waited for: the wait ends, saying so.
func Test_waitManual_containerStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e := &portEngine{port: port}
	e.running.Store(1)
	time.AfterFunc(200*time.Millisecond, func() { e.running.Store(0) })
	f, _, _ := testFactory(t, "[]", false, 0)
	opts := &TestOptions{IO: f.IO, Model: "tiny", Manual: true, Port: port, Timeout: time.Minute}
	err = waitManual(context.Background(), opts, e, "tiny", port, "http://127.0.0.1:"+strconv.Itoa(port))
	// not "did not become ready within 1m": the wait ended with the container
	if err == nil || !strings.Contains(err.Error(), "the container of tiny stopped before it answered") {
		t.Errorf("err %v", err)
	}
}
