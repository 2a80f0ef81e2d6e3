package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/netconf"
)

// Timeouts for fetching the index (a Source's RequestTimeout overrides the
// second).
const (
	DialTimeout           = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// MaxIndexSize bounds what is read of a remote index.
const MaxIndexSize int64 = 32 << 20

// DefaultMaxAge is how long a cached index is used without asking the server.
const DefaultMaxAge = 10 * time.Minute

// ErrNoCache is matched when the index is needed offline but was never fetched.
var ErrNoCache = errors.New("no cached copy of the index")

// Source loads the index from a URL (with a cache) or a local file.
type Source struct {
	// Location is an http(s) URL, a file:// URL or a local path.
	Location string
	// CacheDir holds cached copies of remote indexes.
	CacheDir string
	// HTTP is the client used for remote indexes; nil means a client with DialTimeout
	// and DefaultRequestTimeout.
	HTTP *http.Client
	// RequestTimeout bounds fetching the index (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Offline never touches the network: the cache is used whatever its age.
	Offline bool
	// Refresh revalidates the cache even when it is fresh.
	Refresh bool
	// MaxAge is how long a cached copy is used without revalidation (0: DefaultMaxAge).
	MaxAge time.Duration
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

// Result is a loaded index and how it was obtained.
type Result struct {
	Index *Index
	// FromCache is true when the cached copy was used.
	FromCache bool
	// Revalidated is true when the server answered 304 Not Modified.
	Revalidated bool
	// Warnings are for the user: a stale cache in use, skipped entries.
	Warnings []string
}

type cacheMeta struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	FetchedAt    time.Time `json:"fetched_at"`
}

// IsRemote reports whether loc is an http(s) URL.
func IsRemote(loc string) bool {
	return strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Load returns the index.
func (s *Source) Load(ctx context.Context) (*Result, error) {
	load := s.loadURL
	if !IsRemote(s.Location) {
		load = func(context.Context) (*Result, error) { return s.loadFile() }
	}
	r, err := load(ctx)
	if err == nil && r.Index != nil {
		r.Index.Location = s.Location
	}
	return r, err
}

// FileURLPath turns a file:// URL into the path it names, with Windows
// rules when windows is set (file:///C:/x/models.json is C:\x\models.json,
// file://server/share/x is \\server\share\x) and Unix rules otherwise
// (file:///x/models.json is /x/models.json; only an empty host or localhost).
func FileURLPath(raw string, windows bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("not a file:// URL")
	}
	host, p := u.Host, u.Path
	if strings.EqualFold(host, "localhost") {
		host = ""
	}
	if !windows {
		if host != "" {
			return "", fmt.Errorf("a file URL names a file on this machine: write file:///PATH, not file://%s/PATH", host)
		}
		return p, nil
	}
	isDrive := func(s string) bool {
		return len(s) == 2 && s[1] == ':' && (s[0]|0x20) >= 'a' && (s[0]|0x20) <= 'z'
	}
	switch {
	case isDrive(host): // file://C:/x (a common mistake for file:///C:/x)
		p = host + p
	case host != "": // a share: file://server/share/x
		p = "//" + host + p
	case len(p) >= 3 && p[0] == '/' && isDrive(p[1:3]): // file:///C:/x
		p = p[1:]
	}
	return strings.ReplaceAll(p, "/", `\`), nil
}

func (s *Source) loadFile() (*Result, error) {
	p := s.Location
	if strings.HasPrefix(p, "file://") {
		fp, err := FileURLPath(p, runtime.GOOS == "windows")
		if err != nil {
			return nil, fmt.Errorf("index %s: %w (check --index or MODELHUB_INDEX)", p, err)
		}
		p = fp
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && strings.Contains(p, "://") {
			return nil, fmt.Errorf("index %s is not an http(s) URL, a file:// URL or an existing file (check --index or MODELHUB_INDEX)", p)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("index file %s does not exist (check --index or %s)", p, "MODELHUB_INDEX")
		}
		// a folder, no permission: say which file and where it came from
		return nil, fmt.Errorf("read index %s: %w (check --index or MODELHUB_INDEX: it names a models.json file or an http(s) URL)", p, err)
	}
	ix, err := Parse(data, p)
	if err != nil {
		return nil, err
	}
	return &Result{Index: ix, Warnings: ix.Warnings}, nil
}

func (s *Source) cachePaths() (data, meta string) {
	sum := sha256.Sum256([]byte(s.Location))
	base := filepath.Join(s.CacheDir, "index-"+hex.EncodeToString(sum[:6]))
	return base + ".json", base + ".meta.json"
}

func (s *Source) readCache() ([]byte, *cacheMeta) {
	dp, mp := s.cachePaths()
	data, err := os.ReadFile(dp)
	if err != nil {
		return nil, nil
	}
	mb, err := os.ReadFile(mp)
	if err != nil {
		return nil, nil
	}
	var m cacheMeta
	if json.Unmarshal(mb, &m) != nil || m.URL != s.Location {
		return nil, nil
	}
	return data, &m
}

func (s *Source) writeCache(data []byte, m *cacheMeta) error {
	if err := os.MkdirAll(s.CacheDir, 0o755); err != nil {
		return err
	}
	dp, mp := s.cachePaths()
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := config.WriteFileAtomic(dp, data, 0o600); err != nil {
		return err
	}
	return config.WriteFileAtomic(mp, mb, 0o600)
}

func (s *Source) fromCache(data []byte, m *cacheMeta, warn string) (*Result, error) {
	ix, err := Parse(data, s.Location+" (cached)")
	if err != nil {
		return nil, err
	}
	r := &Result{Index: ix, FromCache: true}
	if warn != "" {
		r.Warnings = append(r.Warnings, warn)
	}
	r.Warnings = append(r.Warnings, ix.Warnings...)
	return r, nil
}

func (s *Source) loadURL(ctx context.Context) (*Result, error) {
	data, meta := s.readCache()
	maxAge := s.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	if s.Offline {
		if data == nil {
			return nil, fmt.Errorf("%w for %s: run once without --offline to download it, or pass --index PATH", ErrNoCache, s.Location)
		}
		return s.fromCache(data, meta, "")
	}
	if data != nil && !s.Refresh && s.now().Sub(meta.FetchedAt) < maxAge {
		if r, err := s.fromCache(data, meta, ""); err == nil {
			return r, nil
		}
		data, meta = nil, nil // a damaged cache is fetched again
	}
	body, resp, err := s.get(ctx, meta)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if data != nil {
			age := s.now().Sub(meta.FetchedAt).Round(time.Minute)
			return s.fromCache(data, meta, fmt.Sprintf("could not reach %s (%v); using the cached index from %s ago", s.Location, shortErr(err), humanAge(age)))
		}
		var pe *netconf.ProxyError
		var ce *netconf.CertError
		if errors.As(err, &pe) || errors.As(err, &ce) {
			return nil, fmt.Errorf("fetch index %s: %s", s.Location, shortErr(err)) // it names the fix
		}
		return nil, fmt.Errorf("fetch index %s: %v (check your network, or pass --index with another URL or a local models.json)", s.Location, shortErr(err))
	}
	if resp.StatusCode == http.StatusNotModified && data != nil {
		meta.FetchedAt = s.now()
		_ = s.writeCache(data, meta)
		r, err := s.fromCache(data, meta, "")
		if err == nil {
			r.Revalidated = true
		}
		return r, err
	}
	ix, err := Parse(body, s.Location)
	if err != nil {
		return nil, err
	}
	nm := &cacheMeta{URL: s.Location, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), FetchedAt: s.now()}
	r := &Result{Index: ix, Warnings: ix.Warnings}
	if err := s.writeCache(body, nm); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("could not cache the index in %s: %v", s.CacheDir, err))
	}
	return r, nil
}

// get fetches the index, conditionally when meta is known. A 304 returns a nil body.
func (s *Source) get(ctx context.Context, meta *cacheMeta) ([]byte, *http.Response, error) {
	timeout := s.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Location, nil)
	if err != nil {
		return nil, nil, err
	}
	if meta != nil {
		if meta.ETag != "" {
			req.Header.Set("If-None-Match", meta.ETag)
		}
		if meta.LastModified != "" {
			req.Header.Set("If-Modified-Since", meta.LastModified)
		}
	}
	req.Header.Set("User-Agent", "modelhub")
	client := s.HTTP
	if client == nil {
		client = DefaultHTTPClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if meta == nil {
			return nil, nil, fmt.Errorf("server answered 304 Not Modified to an unconditional request")
		}
		return nil, resp, nil
	case resp.StatusCode != http.StatusOK:
		return nil, nil, fmt.Errorf("server answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxIndexSize+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > MaxIndexSize {
		return nil, nil, fmt.Errorf("index is larger than %d MiB", MaxIndexSize>>20)
	}
	return body, resp, nil
}

// DefaultHTTPClient has connect and overall timeouts so no request hangs forever.
func DefaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = DialTimeout
	tr.ResponseHeaderTimeout = DefaultRequestTimeout
	return &http.Client{Transport: netconf.Explain(tr), Timeout: DefaultRequestTimeout}
}

func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
