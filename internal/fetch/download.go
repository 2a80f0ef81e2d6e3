// Package fetch clones model repositories and downloads their external files.
// It never prints: progress goes to callbacks, and the CLI draws.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelhub-ai/modelhub/internal/netconf"
	"github.com/modelhub-ai/modelhub/internal/safepath"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// DefaultJobs is how many files download at once.
const DefaultJobs = 4

// Timeouts bound the waits of a download or a clone. A zero field takes its
// default; tests shrink them by setting the fields.
type Timeouts struct {
	// Connect bounds dialing, the TLS handshake and (downloads) waiting for
	// the response headers (default 30 s).
	Connect time.Duration
	// Stall: a transfer that receives no byte for this long is retried (a
	// download) or fails (a clone or listing) (default 30 s).
	Stall time.Duration
	// RetryBase is a download's first backoff delay; it doubles up to
	// RetryMax (default 500 ms and 30 s).
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAttempts is how many consecutive attempts without progress a file
	// gets before its download fails (default 6).
	MaxAttempts int
}

// The defaults of Timeouts.
const (
	defaultConnect     = 30 * time.Second
	defaultStall       = 30 * time.Second
	defaultRetryBase   = 500 * time.Millisecond
	defaultRetryMax    = 30 * time.Second
	defaultMaxAttempts = 6
)

func (t Timeouts) connect() time.Duration   { return orDur(t.Connect, defaultConnect) }
func (t Timeouts) stall() time.Duration     { return orDur(t.Stall, defaultStall) }
func (t Timeouts) retryBase() time.Duration { return orDur(t.RetryBase, defaultRetryBase) }
func (t Timeouts) retryMax() time.Duration  { return orDur(t.RetryMax, defaultRetryMax) }
func (t Timeouts) maxAttempts() int {
	if t.MaxAttempts > 0 {
		return t.MaxAttempts
	}
	return defaultMaxAttempts
}

// syncFiles: a finished file is fsync'd before its rename, so a crash never
// leaves a complete-looking file with missing bytes. Only the benchmark turns
// it off, to show what the fsync costs.
var syncFiles = true

// bufSize is the copy buffer per download: memory stays flat whatever the file size.
const bufSize = 256 << 10

// Sentinel errors, usable with errors.Is.
var (
	// ErrChecksum: the downloaded bytes do not match the expected sha256.
	ErrChecksum = errors.New("sha256 mismatch")
	// ErrStalled: the server sent nothing for Timeouts.Stall.
	ErrStalled = errors.New("download stalled")
)

// HTTPError is a non-retryable (or finally failed) HTTP status.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPError) Error() string {
	status := e.Status
	if status == "" {
		status = strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	}
	msg := fmt.Sprintf("GET %s: server answered %s", e.URL, status)
	switch {
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone:
		msg += " (the file is not there: the model's init.json may point to a moved file; try `modelhub pull --update`, else tell the model's maintainers)"
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		msg += " (access denied: the file may be private or its link expired; tell the model's maintainers)"
	case e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests:
		msg += " (the server is busy or failing; try again later: the download resumes where it stopped)"
	}
	return msg
}

// File is one download: URL to Dest (a file path), optionally verified
// against SHA256 (hex).
type File struct {
	URL    string
	Dest   string
	SHA256 string
	// Root is the folder Dest must stay in ("": Dest's own folder). Every
	// file of the download (Dest, its .part and sidecar, the folders made for
	// them) is opened through an os.Root confined to it, and a symbolic link
	// on any of those paths is refused (safepath.CheckWrite).
	Root string
}

// Result describes a completed download.
type Result struct {
	URL          string `json:"src_url"`
	Dest         string `json:"-"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// EventKind says what an Event reports.
type EventKind int

const (
	// FileStart: a file begins (or resumes); Size is its total (-1 unknown)
	// and Offset the bytes already on disk.
	FileStart EventKind = iota
	// FileBytes: Bytes more bytes arrived (or, when negative, were discarded
	// because the server restarted the file).
	FileBytes
	// FileRetry: an attempt failed with Err; the next starts after Delay.
	FileRetry
	// FileDone: the file is complete and in place; Size is its size.
	FileDone
)

// Event is a progress report for the file at Index in the list passed to Download.
type Event struct {
	Kind   EventKind
	Index  int
	File   File
	Size   int64
	Offset int64
	Bytes  int64
	Err    error
	Delay  time.Duration
	// Result is set for FileDone.
	Result *Result
}

// Downloader downloads files in parallel with resume and retries. The zero
// value is usable.
type Downloader struct {
	// Client is the HTTP client (redirects are followed). nil: a client with
	// Timeouts.Connect and no overall timeout.
	Client *http.Client
	// Jobs is how many files download at once (0: DefaultJobs).
	Jobs int
	// Progress, when set, receives events; calls are serialized.
	Progress func(Event)

	Timeouts

	// FreeSpace returns the bytes available on the file system of dir (nil:
	// what the operating system says). A file whose size is known is
	// refused before it is written when it does not fit.
	FreeSpace func(dir string) (int64, error)

	mu sync.Mutex
	// own is the client made for a Timeouts.Connect other than the default.
	own     *http.Client
	ownOnce sync.Once
	// spaceMu guards reserved: the bytes the files downloading still need.
	spaceMu  sync.Mutex
	reserved int64
}

// defaultClient is the client of Downloaders with the default Timeouts.Connect,
// built on first use.
var defaultClient = sync.OnceValue(func() *http.Client { return newClient(defaultConnect) })

func newClient(connect time.Duration) *http.Client {
	return &http.Client{Transport: netconf.Explain(newTransport(connect))}
}

func newTransport(connect time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = connect
	t.TLSHandshakeTimeout = connect
	// Compressed transfer would break byte offsets for resume.
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = 16
	t.ReadBufferSize = 128 << 10
	return t
}

func (d *Downloader) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	if c := d.connect(); c != defaultConnect {
		d.ownOnce.Do(func() { d.own = newClient(c) })
		return d.own
	}
	return defaultClient()
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func (d *Downloader) emit(e Event) {
	if d.Progress == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Progress(e)
}

// Download fetches files, at most Jobs at a time. It returns the results in
// the order of files, or the first error (the other downloads are then
// stopped, their .part files kept for a later resume).
func (d *Downloader) Download(ctx context.Context, files []File) ([]Result, error) {
	jobs := d.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	results := make([]Result, len(files))
	// The semaphore bounds the network part of each download; the final
	// fsync and rename run outside it, so a slot is free for the next file
	// while the kernel writes the previous one out.
	sem := semaphore.NewWeighted(int64(jobs))
	g, gctx := errgroup.WithContext(ctx)
	for i, f := range files {
		// Slots are taken in list order, so files start in init.json order.
		if err := sem.Acquire(gctx, 1); err != nil {
			break
		}
		g.Go(func() error {
			r, err := d.fetch(gctx, i, f, func() { sem.Release(1) })
			results[i] = r
			return err
		})
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Fetch downloads one file.
func (d *Downloader) Fetch(ctx context.Context, f File) (Result, error) {
	return d.fetch(ctx, 0, f, func() {})
}

// PartPath is where a download in progress is written.
func PartPath(dest string) string { return dest + safepath.PartSuffix }

func sidecarPath(dest string) string { return dest + safepath.SidecarSuffix }

// sidecar remembers what a .part file was fetched from, for If-Range.
type sidecar struct {
	URL          string `json:"src_url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// IfRange is the strong validator the bytes in .part were served with
	// (see strongValidator); without one the .part is never resumed.
	IfRange string `json:"if_range,omitempty"`
	Size    int64  `json:"size"`
}

// MinLastModifiedAge: a Last-Modified is used as a validator only when the
// response's Date is at least this much later (RFC 9110 §8.8.2.2 asks for one
// second and clocks that agree; a minute leaves room for a CDN's clock).
const MinLastModifiedAge = time.Minute

// strongValidator returns what a resume of this response's body sends in
// If-Range, or "" when the response carries no strong validator and a
// resume cannot be proven to continue the same file (RFC 9110 §13.1.5):
// a strong ETag; else, only when there is no ETag at all, a Last-Modified
// that the Date header shows to be strong.
func strongValidator(h http.Header) string {
	if etag := h.Get("ETag"); etag != "" {
		if !isStrongETag(etag) {
			return "" // weak (or malformed): a client that has an entity tag must not fall back to a date
		}
		return etag
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return ""
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil || date.Sub(lm) < MinLastModifiedAge {
		return ""
	}
	return h.Get("Last-Modified")
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// isStrongETag: an opaque-tag in double quotes, without the W/ prefix.
func isStrongETag(v string) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for _, c := range []byte(v[1 : len(v)-1]) {
		if c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// echoesValidator: the response carries the validator sent in If-Range, so
// its bytes come from the same file as those on disk.
func echoesValidator(h http.Header, sent string) bool {
	if sent == "" {
		return false
	}
	if strings.HasPrefix(sent, `"`) {
		return h.Get("ETag") == sent
	}
	return h.Get("Last-Modified") == sent
}

// state is one file's download in progress.
type state struct {
	d       *Downloader
	idx     int
	f       File
	root    *os.Root // confines every file operation (File.Root)
	rel     string   // Dest inside root, slash-separated
	part    *os.File
	offset  int64 // bytes in part (all hashed into h)
	h       hash.Hash
	meta    sidecar
	started bool
	// reserved are the bytes of free space this file still counts on.
	reserved int64
}

// fetch downloads f; release is called once when the network part is over.
func (d *Downloader) fetch(ctx context.Context, idx int, f File, release func()) (Result, error) {
	var once sync.Once
	defer once.Do(release)
	root, rel, err := openRoot(f)
	if err != nil {
		return Result{}, fmt.Errorf("download %s: %w", f.URL, err)
	}
	defer root.Close()
	s := &state{d: d, idx: idx, f: f, root: root, rel: rel, h: sha256.New()}
	defer s.release()
	if err := s.openPart(); err != nil {
		return Result{}, fmt.Errorf("download %s: %w", f.URL, err)
	}
	defer s.part.Close()

	base, maxDelay, maxAttempts := d.retryBase(), d.retryMax(), d.maxAttempts()
	failures := 0
	for {
		before := s.offset
		done, err := s.attempt(ctx)
		if done {
			once.Do(release)
			return s.finish()
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		var delay time.Duration
		if !retryable(err) {
			return Result{}, err
		}
		if s.offset > before {
			failures = 0 // progress was made: start backing off afresh
		}
		failures++
		if failures >= maxAttempts {
			return Result{}, fmt.Errorf("download %s: giving up after %d attempts: %w", f.URL, failures, err)
		}
		delay = min(base<<(failures-1), maxDelay)
		delay = delay/2 + rand.N(delay/2+1)
		var he *retryAfterError
		if errors.As(err, &he) && he.after > delay {
			delay = min(he.after, maxDelay)
		}
		d.emit(Event{Kind: FileRetry, Index: idx, File: f, Err: err, Delay: delay, Offset: s.offset})
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, ctx.Err()
		case <-t.C:
		}
	}
}

// openRoot opens the folder f.Dest must stay in and returns Dest relative to
// it, after making sure nothing the download writes goes through a link.
func openRoot(f File) (*os.Root, string, error) {
	dir := f.Root
	if dir == "" {
		dir = filepath.Dir(f.Dest)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
	}
	rel, err := filepath.Rel(dir, f.Dest)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, "", fmt.Errorf("%s is not inside %s", f.Dest, dir)
	}
	rel = filepath.ToSlash(rel)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	if err := safepath.CheckWrite(root, rel); err != nil {
		root.Close()
		return nil, "", err
	}
	if parent := path.Dir(rel); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			root.Close()
			return nil, "", err
		}
	}
	return root, rel, nil
}

// openPart opens DEST.part, keeping its bytes when the sidecar says they came
// from the same URL with a validator we can send in If-Range.
func (s *state) openPart() error {
	var meta sidecar
	keep := false
	if data, err := s.root.ReadFile(sidecarPath(s.rel)); err == nil && json.Unmarshal(data, &meta) == nil {
		keep = meta.URL == s.f.URL && meta.IfRange != ""
	}
	flags := os.O_RDWR | os.O_CREATE
	if !keep {
		flags |= os.O_TRUNC
	}
	fh, err := s.root.OpenFile(PartPath(s.rel), flags, 0o644)
	if err != nil {
		return err
	}
	s.part = fh
	if !keep {
		return nil
	}
	// Hash what is already on disk so the final sha256 covers the whole file.
	n, err := io.CopyBuffer(s.h, fh, make([]byte, bufSize))
	if err != nil {
		return err
	}
	if meta.Size > 0 && n > meta.Size {
		return s.restart()
	}
	s.offset = n
	s.meta = meta
	return nil
}

// restart discards the bytes on disk.
func (s *state) restart() error {
	if s.offset > 0 && s.started {
		s.d.emit(Event{Kind: FileBytes, Index: s.idx, File: s.f, Bytes: -s.offset})
	}
	s.offset = 0
	s.h.Reset()
	s.meta = sidecar{}
	if err := s.part.Truncate(0); err != nil {
		return err
	}
	_, err := s.part.Seek(0, io.SeekStart)
	return err
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// retryable says whether err is worth another attempt.
func retryable(err error) bool {
	var te *transientError
	if errors.As(err, &te) {
		return true
	}
	var he *HTTPError
	if errors.As(err, &he) || errors.Is(err, ErrChecksum) || errors.Is(err, syscall.ENOSPC) {
		return false
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return false // local file trouble: retrying will not help
	}
	return errors.Is(err, ErrStalled) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || isNetErr(err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF)
}

// attempt performs one request. done reports a complete file.
func (s *state) attempt(ctx context.Context) (done bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, sent, err := s.request(ctx)
	if err != nil {
		return false, err
	}
	stall := s.d.stall()
	watchdog := time.AfterFunc(stall, func() { cancel(ErrStalled) })
	defer watchdog.Stop()

	resp, err := s.d.redirectClient().Do(req)
	if err != nil {
		return false, s.netErr(ctx, err)
	}
	defer resp.Body.Close()
	if done, err := s.accept(resp, sent); done || err != nil {
		return done, err
	}
	return s.receive(ctx, resp.Body, func() { watchdog.Reset(stall) })
}

// request is the GET of the file: a resume (Range from the bytes on disk,
// If-Range their strong validator, which it returns) when they have one.
func (s *state) request(ctx context.Context) (req *http.Request, sent string, err error) {
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.f.URL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("download %s: %w", s.f.URL, err)
	}
	req.Header.Set("User-Agent", "modelhub")
	if s.offset > 0 && s.meta.IfRange == "" {
		// The bytes on disk came without a strong validator: nothing could
		// prove that a range continues the same file, so start over.
		if err := s.restart(); err != nil {
			return nil, "", err
		}
	}
	if s.offset > 0 {
		sent = s.meta.IfRange
		req.Header.Set("Range", "bytes="+strconv.FormatInt(s.offset, 10)+"-")
		req.Header.Set("If-Range", sent)
	}
	return req, sent, nil
}

// accept reads the answer's status and headers: a range that continues the
// bytes on disk, a whole file (the bytes on disk dropped), a file already
// complete on disk (done), or an error (retryable or not). It reserves the
// space the rest needs, records the file's validators and announces the file.
func (s *state) accept(resp *http.Response, sent string) (done bool, err error) {
	switch {
	case resp.StatusCode == http.StatusPartialContent && s.offset > 0:
		if err := s.acceptRange(resp, sent); err != nil {
			return false, err
		}
	case resp.StatusCode == http.StatusOK:
		if s.offset > 0 {
			// The server ignored Range or the file changed (If-Range failed).
			if err := s.restart(); err != nil {
				return false, err
			}
		}
		s.meta.Size = resp.ContentLength
		s.meta.IfRange = strongValidator(resp.Header)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && s.offset > 0:
		// The server evaluated our If-Range as matching (a changed file gets
		// a 200) and the bytes on disk are all there is.
		_, _, total, _ := parseContentRange(resp.Header.Get("Content-Range"))
		if total == s.offset {
			s.meta.Size = total
			return true, nil // already complete on disk
		}
		if err := s.restart(); err != nil {
			return false, err
		}
		return false, &transientError{fmt.Errorf("download %s: range not satisfiable, restarting", s.f.URL)}
	default:
		he := &HTTPError{URL: s.f.URL, StatusCode: resp.StatusCode, Status: resp.Status}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			return false, &retryAfterError{err: &transientError{he}, after: parseRetryAfter(resp.Header.Get("Retry-After"))}
		}
		return false, he
	}
	if s.meta.Size >= 0 {
		if err := s.reserve(s.meta.Size - s.offset); err != nil {
			return false, err
		}
	}
	if resp.StatusCode == http.StatusOK || !s.started {
		s.meta.URL, s.meta.ETag, s.meta.LastModified = s.f.URL, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if err := s.writeSidecar(); err != nil {
			return false, err
		}
	}
	if !s.started {
		s.started = true
		s.d.emit(Event{Kind: FileStart, Index: s.idx, File: s.f, Size: s.meta.Size, Offset: s.offset})
	}
	return false, nil
}

// acceptRange checks that a 206 continues the bytes on disk: the same
// version (the validator sent echoed back), at the offset asked, of the size
// known. Anything else restarts the file from zero: two versions are never
// spliced.
func (s *state) acceptRange(resp *http.Response, sent string) error {
	cr := resp.Header.Get("Content-Range")
	start, _, total, ok := parseContentRange(cr)
	var why string
	switch {
	case !echoesValidator(resp.Header, sent):
		why = fmt.Sprintf("the server sent a range of another version of the file (asked for the version %s, got ETag %s, Last-Modified %s)", sent, orNone(resp.Header.Get("ETag")), orNone(resp.Header.Get("Last-Modified")))
	case !ok || start != s.offset:
		why = fmt.Sprintf("unexpected Content-Range %q for a resume at byte %d", cr, s.offset)
	case s.meta.Size >= 0 && total != s.meta.Size:
		why = fmt.Sprintf("the file is now %d bytes, was %d", total, s.meta.Size)
	}
	if why != "" {
		if err := s.restart(); err != nil {
			return err
		}
		return &transientError{fmt.Errorf("download %s: %s; restarting the file from zero", s.f.URL, why)}
	}
	s.meta.Size = total
	return nil
}

// receive appends the body to the .part file, hashing it on the way;
// progress is called after each read that brought bytes (it feeds the stall
// watchdog). done reports the whole file received.
func (s *state) receive(ctx context.Context, body io.Reader, progress func()) (done bool, err error) {
	hw := startHasher(s.h)
	defer hw.wait()
	for {
		buf := hw.buffer()
		n, rerr := body.Read(buf)
		if n > 0 {
			progress()
			if _, err := s.part.Write(buf[:n]); err != nil {
				hw.release(buf)
				return false, fmt.Errorf("write %s: %w", PartPath(s.f.Dest), err)
			}
			hw.hash(buf[:n])
			s.offset += int64(n)
			s.wrote(int64(n))
			s.d.emit(Event{Kind: FileBytes, Index: s.idx, File: s.f, Bytes: int64(n)})
		} else {
			hw.release(buf)
		}
		if rerr == io.EOF {
			if s.meta.Size >= 0 && s.offset != s.meta.Size {
				return false, &transientError{fmt.Errorf("download %s: connection closed at %d of %d bytes", s.f.URL, s.offset, s.meta.Size)}
			}
			return true, nil
		}
		if rerr != nil {
			return false, s.netErr(ctx, rerr)
		}
	}
}

// hasher hashes on its own goroutine so hashing overlaps network reads and
// disk writes. It owns a few fixed buffers: memory stays flat.
type hasher struct {
	h    hash.Hash
	todo chan []byte
	free chan []byte
	done chan struct{}
}

func startHasher(h hash.Hash) *hasher {
	const nbuf = 4
	hw := &hasher{h: h, todo: make(chan []byte, nbuf), free: make(chan []byte, nbuf), done: make(chan struct{})}
	for range nbuf {
		hw.free <- make([]byte, bufSize)
	}
	go func() {
		defer close(hw.done)
		for b := range hw.todo {
			hw.h.Write(b)
			hw.free <- b[:cap(b)]
		}
	}()
	return hw
}

func (hw *hasher) buffer() []byte   { return <-hw.free }
func (hw *hasher) release(b []byte) { hw.free <- b[:cap(b)] }
func (hw *hasher) hash(b []byte)    { hw.todo <- b }
func (hw *hasher) wait()            { close(hw.todo); <-hw.done }

// netErr turns a transport error into a retryable one unless the parent
// context was cancelled.
func (s *state) netErr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrStalled) {
		return &transientError{fmt.Errorf("download %s: no data for %s: %w", s.f.URL, s.d.stall(), ErrStalled)}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var re *RedirectError
	if errors.As(err, &re) {
		return fmt.Errorf("download %s: %w", s.f.URL, re) // retrying would only loop again
	}
	return &transientError{fmt.Errorf("download %s: %w", s.f.URL, err)}
}

// MaxRedirects is how many redirects a download follows.
const MaxRedirects = 10

// RedirectError: a download was redirected somewhere it cannot follow (not
// http(s)) or too many times (a loop). It is never retried.
type RedirectError struct {
	To     string
	Reason string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirected to %s: %s (the file's link is broken; tell the model's maintainers)", e.To, e.Reason)
}

// redirectClient is the download client with modelhub's redirect rules,
// whatever rules the client given had.
func (d *Downloader) redirectClient() *http.Client {
	c := *d.client()
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		switch {
		case req.URL.Scheme != "http" && req.URL.Scheme != "https":
			return &RedirectError{To: req.URL.String(), Reason: "only http and https are followed"}
		case len(via) >= MaxRedirects:
			return &RedirectError{To: req.URL.String(), Reason: fmt.Sprintf("more than %d redirects (a redirect loop)", MaxRedirects)}
		}
		return nil
	}
	return &c
}

// finish verifies the hash, syncs and renames DEST.part to DEST.
func (s *state) finish() (Result, error) {
	sum := hex.EncodeToString(s.h.Sum(nil))
	part := PartPath(s.f.Dest)
	if s.f.SHA256 != "" && !strings.EqualFold(sum, s.f.SHA256) {
		s.part.Close()
		s.root.Remove(PartPath(s.rel))
		s.root.Remove(sidecarPath(s.rel))
		return Result{}, fmt.Errorf("download %s: %w: expected %s, got %s (the file changed on the server or init.json has a wrong sha256)", s.f.URL, ErrChecksum, strings.ToLower(s.f.SHA256), sum)
	}
	if !syncFiles {
	} else if err := s.part.Sync(); err != nil {
		return Result{}, fmt.Errorf("sync %s: %w", part, err)
	}
	if err := s.part.Close(); err != nil {
		return Result{}, fmt.Errorf("close %s: %w", part, err)
	}
	if err := s.root.Rename(PartPath(s.rel), s.rel); err != nil {
		return Result{}, fmt.Errorf("download %s: %w", s.f.URL, err)
	}
	s.root.Remove(sidecarPath(s.rel))
	syncDir(s.root, path.Dir(s.rel))
	if !s.started {
		s.started = true
		s.d.emit(Event{Kind: FileStart, Index: s.idx, File: s.f, Size: s.offset, Offset: s.offset})
	}
	res := Result{URL: s.f.URL, Dest: s.f.Dest, Size: s.offset, SHA256: sum, ETag: s.meta.ETag, LastModified: s.meta.LastModified}
	s.d.emit(Event{Kind: FileDone, Index: s.idx, File: s.f, Size: s.offset, Result: &res})
	return res, nil
}

func (s *state) writeSidecar() error {
	data, err := json.Marshal(s.meta)
	if err != nil {
		return err
	}
	return s.root.WriteFile(sidecarPath(s.rel), data, 0o644)
}

// syncDir makes a rename durable; it is best effort (Windows cannot sync a directory).
func syncDir(root *os.Root, dir string) {
	if d, err := root.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" (or "bytes */TOTAL", then
// first and last are -1); total is -1 when "*". ok is false unless the value
// is well formed: digits only, first <= last, last < total when known.
func parseContentRange(v string) (first, last, total int64, ok bool) {
	first, last, total = -1, -1, -1
	v, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return -1, -1, -1, false
	}
	rng, tot, found := strings.Cut(v, "/")
	if !found {
		return -1, -1, -1, false
	}
	if tot != "*" {
		t, ok := parseDigits(tot)
		if !ok {
			return -1, -1, -1, false
		}
		total = t
	}
	if rng == "*" {
		return -1, -1, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return -1, -1, total, false
	}
	f, ok1 := parseDigits(a)
	l, ok2 := parseDigits(b)
	if !ok1 || !ok2 || f > l || (total >= 0 && l >= total) {
		return -1, -1, total, false
	}
	return f, l, total, true
}

// parseDigits parses a non-empty run of ASCII digits that fits an int64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// maxRetryAfter caps what a server may ask us to wait.
const maxRetryAfter = time.Hour

// parseRetryAfter reads Retry-After (delay-seconds or an HTTP-date) as a
// wait in [0, maxRetryAfter]; anything else is 0.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, ok := parseDigits(v); ok {
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}
