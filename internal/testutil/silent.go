package testutil

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// SilentListener accepts connections and never answers: a daemon or server
// that hangs. It reads and discards what clients send and keeps every
// connection open until the test ends.
type SilentListener struct {
	// Addr is the address to dial: a socket path (unix) or host:port (tcp).
	Addr string

	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

// NewSilentListener listens on network "unix" (a socket in a short temporary
// folder) or "tcp" (127.0.0.1) and is closed when the test ends.
func NewSilentListener(t T, network string) *SilentListener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		// Socket paths are limited to about 100 bytes: a test's TempDir may be longer.
		dir, err := os.MkdirTemp("", "mh-sock")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &SilentListener{Addr: ln.Addr().String(), ln: ln}
	if network == "unix" {
		s.Addr = addr
	}
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func (s *SilentListener) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
}

// Accepted is how many connections were accepted so far.
func (s *SilentListener) Accepted() int64 { return s.accepted.Load() }

// Close stops listening and closes the connections.
func (s *SilentListener) Close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}
