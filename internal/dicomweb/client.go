// Package dicomweb talks to a PACS over DICOMweb: QIDO-RS (which studies and
// series it holds), WADO-RS (retrieve a study into a folder, instance by
// instance, resumable) and STOW-RS (store DICOM files, e.g. a SEG, and say
// per instance what the server accepted or refused). Every server is treated
// as hostile: bounded sizes, bounded waits, nothing written outside the
// destination folder, no redirect to another server. Credentials (basic or
// bearer) go in the Authorization header and nowhere else: no error, URL or
// record this package makes holds them. It never prints.
package dicomweb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/netconf"
)

// Environment variables holding credentials (they win over a settings file).
const (
	EnvUser     = "MODELHUB_PACS_USER"
	EnvPassword = "MODELHUB_PACS_PASSWORD"
	EnvToken    = "MODELHUB_PACS_TOKEN"
)

// Auth are the credentials of a server: a user and password (basic) or a
// bearer token. From says where they came from (names of environment
// variables or settings keys, never their values), for error messages.
type Auth struct {
	User, Password string
	Token          string
	From           string
}

// Empty reports whether there are no credentials.
func (a Auth) Empty() bool { return a.User == "" && a.Password == "" && a.Token == "" }

// Limits bound what a server can make modelhub read or wait for.
type Limits struct {
	// Instance is the largest DICOM instance (one part of a multipart
	// answer, or a file to store) accepted; JSON the largest QIDO or STOW
	// answer.
	Instance int64
	JSON     int64
	// Header bounds the wait for a response's headers; Idle the time without
	// a byte while a body streams.
	Header time.Duration
	Idle   time.Duration
	// Page is the number of results a QIDO request asks for (limit); the
	// next page is asked for (offset) while pages come back full or with
	// a Warning: 299 (the server cut the answer short). JSON bounds all
	// pages together.
	Page int
}

// DefaultLimits: a CT or MR instance is rarely over a few tens of MiB; a
// whole-slide image frame set may be larger, hence 4 GiB. 16 MiB of QIDO
// JSON is some 20000 studies; decoded, 16 MiB of hostile tiny datasets
// take about 120 MiB of heap (64 MiB took 490).
var DefaultLimits = Limits{Instance: 4 << 30, JSON: 16 << 20, Header: 2 * time.Minute, Idle: time.Minute, Page: 1000}

// Client is a DICOMweb server's base URL (the one QIDO-RS answers on, e.g.
// http://pacs:8042/dicom-web) with credentials.
type Client struct {
	base   *url.URL
	auth   Auth
	hc     *http.Client
	Limits Limits
}

// New makes a client for the server at rawURL. A URL holding a user or
// password is refused: URLs are printed and recorded, credentials must not
// be. rt is the transport (nil: a clone of http.DefaultTransport, which
// carries the proxy and CA settings of netconf.Configure).
func New(rawURL string, auth Auth, rt http.RoundTripper) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not a DICOMweb URL: want http(s)://HOST[:PORT]/PATH, e.g. https://pacs.example.org/dicom-web", Redact(rawURL))
	}
	if h := u.Hostname(); h == "." || h == ".." {
		// the host names the study's folder in the cache
		return nil, fmt.Errorf("%q is not a DICOMweb URL: %q is no host name", Redact(rawURL), h)
	}
	if u.User != nil {
		return nil, fmt.Errorf("the DICOMweb URL %s holds credentials: remove them from the URL and set %s and %s (or %s) instead", Redact(rawURL), EnvUser, EnvPassword, EnvToken)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, auth: auth, Limits: DefaultLimits}
	if rt == nil {
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t = t.Clone()
			t.ResponseHeaderTimeout = c.Limits.Header
			rt = t
		} else {
			rt = http.DefaultTransport
		}
	}
	c.hc = &http.Client{Transport: netconf.Explain(rt), CheckRedirect: c.checkRedirect}
	return c, nil
}

// URL is the server's base URL (it never holds credentials).
func (c *Client) URL() string { return c.base.String() }

// Redact is rawURL without its user and password (for an error message).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an unparsable URL)"
	}
	if u.User != nil {
		u.User = nil
		return u.String()
	}
	return rawURL
}

// checkRedirect follows at most 3 redirects on the same server: a redirect
// to another one would take the credentials (or the patient data of a
// STOW) elsewhere.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != c.base.Scheme || req.URL.Host != c.base.Host {
		return fmt.Errorf("the server at %s redirected to %s://%s, another server: refused (give that server's URL if it is the right one)", c.base.Host, c.safe(req.URL.Scheme), c.safe(req.URL.Host))
	}
	if len(via) > 3 {
		return fmt.Errorf("the server at %s redirected more than 3 times", c.base.Host)
	}
	return nil
}

// uidRE is what a UID may be (PS3.5 9.1); checked before a UID goes into a
// URL or a file name.
var uidRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

// ValidUID reports whether s is a DICOM UID (digits and dots, at most 64).
func ValidUID(s string) bool { return len(s) <= 64 && uidRE.MatchString(s) }

func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

// ErrNotFound is a study (or series) the server does not hold.
var ErrNotFound = errors.New("not found")

// StatusError is an answer other than success, explained.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// Is makes a 404 match ErrNotFound.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// do sends a request and returns a response with a 2xx status (or one of
// also), else an explained error; what names the thing asked for ("study
// 1.2.3") for a 404.
func (c *Client) do(req *http.Request, what string, also ...int) (*http.Response, error) {
	if c.auth.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	} else if !c.auth.Empty() {
		req.SetBasicAuth(c.auth.User, c.auth.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("reach the DICOMweb server %s: %w%s", c.base.Host, c.scrub(unwrapURL(err)), dialHint(req, err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	for _, s := range also {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil, c.statusError(resp.StatusCode, resp.Status, what)
}

func (c *Client) statusError(code int, status, what string) error {
	host := c.base.Host
	var msg string
	switch code {
	case http.StatusUnauthorized:
		if c.auth.Empty() {
			msg = fmt.Sprintf("the DICOMweb server %s wants credentials (401): set %s and %s, or %s (or pacs.user/pacs.password/pacs.token in the settings file)", host, EnvUser, EnvPassword, EnvToken)
		} else if c.auth.Token != "" {
			msg = fmt.Sprintf("the DICOMweb server %s refused the token (401): wrong or expired token; fix %s", host, c.auth.From)
		} else {
			msg = fmt.Sprintf("the DICOMweb server %s refused the user and password (401): wrong user or password; fix %s", host, c.auth.From)
		}
	case http.StatusForbidden:
		msg = fmt.Sprintf("the DICOMweb server %s refused access to %s (403): these credentials may not read or store it; ask its administrators", host, what)
	case http.StatusNotFound:
		msg = fmt.Sprintf("%s not found on the DICOMweb server %s (404): check the UID with `modelhub pacs ls %s`", what, host, c.base)
	default:
		msg = fmt.Sprintf("the DICOMweb server %s answered %s for %s", host, c.safe(status), what)
	}
	return &StatusError{Status: code, Msg: msg}
}

// secrets are the credentials as they may come back from a server that
// echoes the request (in a status line, a header, an error page): the
// token, the password, and the user:password pair in base64.
func (c *Client) secrets() []string {
	var out []string
	for _, s := range []string{c.auth.Token, c.auth.Password} {
		if s != "" {
			out = append(out, s)
		}
	}
	if c.auth.User != "" || c.auth.Password != "" {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(c.auth.User+":"+c.auth.Password)))
	}
	return out
}

// safe is a string from the server made fit for a message: any
// credential it echoes replaced by [redacted], then sanitized. Every
// server string in an error of this package goes through it.
func (c *Client) safe(s string) string { return sanitize(c.redact(s)) }

// redact is s with every credential it echoes replaced by [redacted].
func (c *Client) redact(s string) string {
	for _, secret := range c.secrets() {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// scrub is a transport error (whose text may quote the server's answer,
// e.g. a malformed status line) with any credential redacted.
func (c *Client) scrub(err error) error {
	msg := c.redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

// scrubbed keeps errors.Is (ErrNotFound, context.Canceled) working through
// a redacted message.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// dialHint is what to do when the server could not be reached at all (no
// such host, nothing listening, no route): not for a proxy's or a
// certificate's error, which netconf already explains, nor through a proxy
// (the dial was to the proxy).
func dialHint(req *http.Request, err error) string {
	if p, perr := http.ProxyFromEnvironment(req); p != nil || perr != nil {
		return ""
	}
	var oe *net.OpError
	var de *net.DNSError
	if (errors.As(err, &oe) && oe.Op == "dial") || errors.As(err, &de) {
		return "; check that the PACS runs there and that the URL (host, port, path) is right"
	}
	return ""
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sanitize keeps printable ASCII of a string from the server, bounded.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 200 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r > 0x7e {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// query GETs a QIDO-RS resource page by page (limit and offset) and
// returns its datasets, each key (the value of tag key: the UID of the
// level asked for) once. Paging ends at an empty page, a short page
// without a Warning: 299, a page longer than asked for (the server ignores
// limit) or one that brings nothing new (it ignores offset); all pages
// together are bounded by Limits.JSON. A server that refuses limit and
// offset (400) is asked once without them.
func (c *Client) query(ctx context.Context, path string, q url.Values, key, what string) ([]Dataset, error) {
	var out []Dataset
	seen := map[string]bool{}
	budget := c.Limits.JSON
	page := c.Limits.Page
	for offset := 0; ; {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		if page > 0 {
			pq.Set("limit", strconv.Itoa(page))
			pq.Set("offset", strconv.Itoa(offset))
		}
		ds, warned, n, err := c.getJSON(ctx, c.endpoint(path, pq), what, budget)
		if err != nil {
			var se *StatusError
			if page > 0 && offset == 0 && errors.As(err, &se) && se.Status == http.StatusBadRequest {
				page = 0 // no paging then
				continue
			}
			return nil, err
		}
		budget -= n
		fresh := 0
		for _, d := range ds {
			k := d.String(key)
			if k != "" && seen[k] {
				continue
			}
			seen[k] = true
			fresh++
			out = append(out, d)
		}
		if page <= 0 || len(ds) == 0 || len(ds) > page || fresh == 0 || (len(ds) < page && !warned) {
			if warned {
				// the server says it left results out, and paging got no further
				return out, &PartialError{Shown: len(out), What: what, Host: c.base.Host}
			}
			return out, nil
		}
		offset += len(ds)
	}
}

// PartialError is a QIDO listing the server cut short (Warning: 299) past
// what paging with limit and offset could get; the results got so far come
// with it.
type PartialError struct {
	Shown      int
	What, Host string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("the DICOMweb server %s cut its answer about %s short (Warning: 299) after %d result(s) and does not page with offset", e.Host, e.What, e.Shown)
}

// getJSON GETs a DICOM JSON answer (an array of datasets) of at most
// budget bytes; warned is whether the server said (Warning: 299) that it
// left results out, n the bytes read.
func (c *Client) getJSON(ctx context.Context, u, what string, budget int64) (ds []Dataset, warned bool, n int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, 0, err
	}
	req.Header.Set("Accept", "application/dicom+json, application/json")
	resp, err := c.do(req, what)
	if err != nil {
		return nil, false, 0, err
	}
	defer resp.Body.Close()
	for _, w := range resp.Header.Values("Warning") {
		warned = warned || strings.HasPrefix(strings.TrimSpace(w), "299")
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, warned, 0, nil
	}
	ds, n, err = c.readDatasets(resp.Body, cancel, what, budget)
	return ds, warned, n, err
}

// readDatasets reads a DICOM JSON array from body, bounded in size (budget
// bytes, itself at most Limits.JSON) and in idle time (cancel ends the
// request); n is the bytes read.
func (c *Client) readDatasets(body io.Reader, cancel context.CancelFunc, what string, budget int64) ([]Dataset, int64, error) {
	data, err := io.ReadAll(io.LimitReader(c.idle(body, cancel), min(budget, c.Limits.JSON)+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read the answer of %s about %s: %w", c.base.Host, what, err)
	}
	n := int64(len(data))
	if n > min(budget, c.Limits.JSON) {
		return nil, n, fmt.Errorf("the DICOMweb server %s sent more than %d MiB of JSON about %s: refused", c.base.Host, c.Limits.JSON>>20, what)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, n, nil
	}
	var out []Dataset
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, n, fmt.Errorf("the DICOMweb server %s sent no DICOM JSON about %s: %v", c.base.Host, what, err)
	}
	return out, n, nil
}

// idleReader fails a read that waits longer than d for a byte, by
// cancelling the request.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
	fired chan struct{}
}

// idle wraps body so that a server going quiet for Limits.Idle ends the
// transfer (cancel cancels the request; nil when the caller has none).
func (c *Client) idle(body io.Reader, cancel context.CancelFunc) io.Reader {
	if c.Limits.Idle <= 0 || cancel == nil {
		return body
	}
	ir := &idleReader{r: body, d: c.Limits.Idle, fired: make(chan struct{})}
	ir.timer = time.AfterFunc(ir.d, func() { close(ir.fired); cancel() })
	return ir
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	select {
	case <-ir.fired:
		return n, fmt.Errorf("the server sent nothing for %s", ir.d)
	default:
	}
	if n > 0 {
		ir.timer.Reset(ir.d)
	}
	if err != nil {
		ir.timer.Stop()
	}
	return n, err
}
