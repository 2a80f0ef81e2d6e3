package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Content is the body of a served file: Size bytes readable at any offset.
type Content interface {
	io.ReaderAt
	Size() int64
}

// Bytes serves a byte slice.
type Bytes []byte

func (b Bytes) Size() int64 { return int64(len(b)) }

func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// patternBlock is a prime length so that a resume at the wrong offset changes
// the bytes (and the hash).
const patternBlock = 65521

// Pattern is size bytes of deterministic pseudo-random content generated on the
// fly, so benchmarks can serve gigabytes without storing them.
type Pattern struct {
	size  int64
	block []byte
}

// NewPattern returns size bytes of content derived from seed.
func NewPattern(size int64, seed uint64) *Pattern {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	block := make([]byte, patternBlock)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &Pattern{size: size, block: block}
}

func (p *Pattern) Size() int64 { return p.size }

func (p *Pattern) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	want := len(b)
	if rest := p.size - off; int64(want) > rest {
		want = int(rest)
	}
	n := 0
	for n < want {
		i := (off + int64(n)) % patternBlock
		n += copy(b[n:want], p.block[i:])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// SHA256 returns the hex sha256 of c.
func SHA256(c Content) string {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(c, 0, c.Size())); err != nil {
		panic(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Fault describes misbehaviour injected into the answers for one file.
// Counters apply to the first N requests of the file; 0 means every request
// for the *Times fields of CutAfter and StallAfter, and "no fault" for Status.
type Fault struct {
	// Status is answered (with an empty body) instead of the file for the
	// first StatusTimes requests, e.g. 503 or 429.
	Status      int
	StatusTimes int
	// RetryAfter is sent as Retry-After with Status, when set.
	RetryAfter string
	// CutAfter > 0 closes the connection after CutAfter body bytes of the
	// first CutTimes responses (0 = every response).
	CutAfter int64
	CutTimes int
	// StallAfter > 0 stops sending after StallAfter body bytes and holds the
	// connection open until the client goes away (or StallFor elapses).
	StallAfter int64
	StallTimes int
	StallFor   time.Duration
	// IgnoreRange answers every request with the whole file (200).
	IgnoreRange bool
	// RateLimit > 0 limits each response to RateLimit bytes per second.
	RateLimit int64
	// NoValidators omits ETag and Last-Modified.
	NoValidators bool
	// NoETag omits the ETag (Last-Modified is still sent).
	NoETag bool
	// WeakETag sends the ETag as a weak one (W/"...").
	WeakETag bool
	// IgnoreIfRange serves the requested range of the current file whatever
	// If-Range says, as a broken server or cache would.
	IgnoreIfRange bool
	// Hold, when set, stops each response after HoldAfter body bytes until
	// Hold is closed (or the client goes away): a download held in the
	// middle for as long as a test needs, then finished at full speed.
	Hold      <-chan struct{}
	HoldAfter int64
}

// Request is what the file server logged about one request.
type Request struct {
	Path    string
	Method  string
	Range   string
	IfRange string
	Status  int
	// Bytes is how many body bytes were written.
	Bytes int64
}

type served struct {
	content  Content
	etag     string
	modTime  time.Time
	fault    Fault
	requests int
}

// FileServer serves files on 127.0.0.1 with Range/If-Range, ETag and
// Last-Modified, redirects, and fault injection, and logs every request.
type FileServer struct {
	// URL is the server's base URL; a file added at "/a/b" is at URL+"/a/b".
	URL string

	srv       *httptest.Server
	mu        sync.Mutex
	files     map[string]*served
	redirects map[string]string
	log       []Request
	active    int
	maxActive int
}

// MaxConcurrent returns the largest number of requests served at once.
func (s *FileServer) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxActive
}

// NewFileServer starts a file server; it is closed when the test ends.
func NewFileServer(t T) *FileServer { return NewFileServerOn(t, "127.0.0.1") }

// NewFileServerOn is NewFileServer listening on host (an address of this
// machine) instead of 127.0.0.1.
func NewFileServerOn(t T, host string) *FileServer {
	s := &FileServer{files: map[string]*served{}, redirects: map[string]string{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	listenOn(t, s.srv, host)
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server.
func (s *FileServer) Close() { s.srv.Close() }

// Add serves c at path (which starts with "/") and returns its URL.
func (s *FileServer) Add(path string, c Content) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = &served{
		content: c,
		etag:    fmt.Sprintf("%q", strconv.FormatInt(time.Now().UnixNano(), 36)),
		modTime: time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	return s.URL + path
}

// Replace serves c at path in place of the file there, as a new version: a
// new ETag and a Last-Modified a minute later. The fault is kept and its
// request counter goes on.
func (s *FileServer) Replace(path string, c Content) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.files[path]
	sv.content = c
	sv.etag = fmt.Sprintf("%q", strconv.FormatInt(time.Now().UnixNano(), 36)+"v")
	sv.modTime = sv.modTime.Add(time.Minute)
}

// AddBytes serves data at path and returns its URL.
func (s *FileServer) AddBytes(path string, data []byte) string { return s.Add(path, Bytes(data)) }

// Redirect answers requests for from with a 302 to to (a path or URL) and
// returns the URL of from.
func (s *FileServer) Redirect(from, to string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirects[from] = to
	return s.URL + from
}

// SetFault sets the fault injected for path and resets its request counter.
func (s *FileServer) SetFault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.files[path]; sv != nil {
		sv.fault = f
		sv.requests = 0
	}
}

// Requests returns the logged requests for path ("" = all).
func (s *FileServer) Requests(path string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.log {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Count returns how many requests path received ("" = all).
func (s *FileServer) Count(path string) int { return len(s.Requests(path)) }

// RangeRequests returns the logged requests for path that carried a Range header.
func (s *FileServer) RangeRequests(path string) []Request {
	var out []Request
	for _, r := range s.Requests(path) {
		if r.Range != "" {
			out = append(out, r)
		}
	}
	return out
}

func (s *FileServer) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Path: r.URL.Path, Method: r.Method, Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range")}
	cw := &countingWriter{ResponseWriter: w, limit: -1}
	// The request is logged when it arrives and completed when it ends, so a
	// test sees a request whose client died mid-body.
	s.mu.Lock()
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.log = append(s.log, rec)
	i := len(s.log) - 1
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.log[i].Status, s.log[i].Bytes = cw.status, cw.n
		if s.log[i].Status == 0 {
			s.log[i].Status = http.StatusOK
		}
		s.mu.Unlock()
	}()

	s.mu.Lock()
	to, isRedirect := s.redirects[r.URL.Path]
	sv := s.files[r.URL.Path]
	var f Fault
	var n int
	if sv != nil {
		sv.requests++
		n = sv.requests
		f = sv.fault
	}
	s.mu.Unlock()

	if isRedirect {
		http.Redirect(cw, r, to, http.StatusFound)
		return
	}
	if sv == nil {
		http.NotFound(cw, r)
		return
	}
	if f.Status != 0 && n <= f.StatusTimes {
		if f.RetryAfter != "" {
			cw.Header().Set("Retry-After", f.RetryAfter)
		}
		cw.WriteHeader(f.Status)
		return
	}
	if f.IgnoreRange {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	if f.IgnoreIfRange {
		r.Header.Del("If-Range")
	}
	switch {
	case f.NoValidators || f.NoETag:
	case f.WeakETag:
		cw.Header().Set("ETag", "W/"+sv.etag)
	default:
		cw.Header().Set("ETag", sv.etag)
	}
	if f.CutAfter > 0 && (f.CutTimes == 0 || n <= f.CutTimes) {
		cw.limit, cw.cut = f.CutAfter, true
	}
	if f.StallAfter > 0 && (f.StallTimes == 0 || n <= f.StallTimes) {
		cw.limit, cw.cut = f.StallAfter, false
		cw.stallFor, cw.ctx = f.StallFor, r
	}
	cw.rate = f.RateLimit
	cw.hold, cw.holdAfter = f.Hold, f.HoldAfter
	cw.ctx = r
	cw.start = time.Now()
	mod := sv.modTime
	if f.NoValidators {
		mod = time.Time{}
	}
	http.ServeContent(cw, r, "", mod, io.NewSectionReader(sv.content, 0, sv.content.Size()))
}

// countingWriter counts body bytes and injects cuts, stalls and rate limits.
type countingWriter struct {
	http.ResponseWriter
	status   int
	n        int64
	limit    int64 // -1: no cut/stall
	cut      bool
	stallFor time.Duration
	ctx      *http.Request
	rate     int64
	start    time.Time
	// hold: see Fault.Hold
	hold      <-chan struct{}
	holdAfter int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

// ReadFrom hides the underlying writer's ReadFrom (sendfile) so that every
// byte goes through Write.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	return io.CopyBuffer(struct{ io.Writer }{c}, r, buf)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	written := 0
	for len(p) > 0 {
		chunk := p
		if c.rate > 0 && len(chunk) > 32<<10 {
			chunk = chunk[:32<<10]
		}
		if c.hold != nil {
			if c.n >= c.holdAfter {
				if f, ok := c.ResponseWriter.(http.Flusher); ok {
					f.Flush()
				}
				select {
				case <-c.hold:
				case <-c.ctx.Context().Done():
					panic(http.ErrAbortHandler)
				}
				c.hold = nil
			} else if c.n+int64(len(chunk)) > c.holdAfter {
				chunk = chunk[:c.holdAfter-c.n]
			}
		}
		if c.limit >= 0 && c.n+int64(len(chunk)) > c.limit {
			chunk = chunk[:c.limit-c.n]
		}
		if len(chunk) > 0 {
			m, err := c.ResponseWriter.Write(chunk)
			c.n += int64(m)
			written += m
			if err != nil {
				return written, err
			}
			p = p[m:]
		}
		if c.limit >= 0 && c.n >= c.limit && len(p) > 0 {
			if f, ok := c.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			if !c.cut {
				wait := c.stallFor
				if wait == 0 {
					wait = time.Hour
				}
				select {
				case <-c.ctx.Context().Done():
				case <-time.After(wait):
				}
			}
			panic(http.ErrAbortHandler)
		}
		if c.rate > 0 {
			due := c.start.Add(time.Duration(float64(c.n) / float64(c.rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if f, ok := c.ResponseWriter.(http.Flusher); ok {
					f.Flush()
				}
				time.Sleep(d)
			}
		}
	}
	return written, nil
}

// Flush passes flushes through.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// HashBytes returns the hex sha256 of data.
func HashBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// listenOn makes the unstarted srv listen on a free port of host, unless host
// is 127.0.0.1 (httptest's own listener).
func listenOn(t T, srv *httptest.Server, host string) {
	if host == "127.0.0.1" {
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	srv.Listener.Close()
	srv.Listener = ln
}
