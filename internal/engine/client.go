package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
)

// MaxAnswer bounds an engine's JSON answer. An engine puts a large output
// (a volume, a mask) in a file under /api/output/, which predict streams to
// disk (-o); inline, the answer is held, parsed and logged, a few copies of
// it at once. 16 MiB is four times the largest inline answer of the
// published models (a 512×512 mask as a nested list is about 1 MiB) and keeps
// predict under 64 MiB per answer in flight; a larger answer is refused
// without being read (see BenchmarkRunner_largeAnswer in internal/predict).
const MaxAnswer = 16 << 20

// ErrAnswerTooLarge: the engine's JSON answer is larger than MaxAnswer (or
// the client's own MaxAnswer).
var ErrAnswerTooLarge = fmt.Errorf("the model's answer is larger than %d MiB, the limit for a JSON answer (a model should save a large output to a file under %s, which predict -o downloads to disk)", MaxAnswer>>20, OutputPrefix)

// EngineError is a request the engine refused or failed: its {"error": …},
// whatever the HTTP status.
type EngineError struct {
	Status int
	Msg    string
}

func (e *EngineError) Error() string { return "the model answered: " + e.Msg }

// HTTPError is an answer that is not the engine's JSON: a status other than
// 2xx without an engine error.
type HTTPError struct {
	Status int
	Body   string // the first 200 characters, white space folded
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// Reply is one raw answer of the engine: its status and its body, read
// whole up to the client's MaxAnswer.
type Reply struct {
	Status     int
	StatusLine string // as the engine sent it, e.g. "404 NOT FOUND"
	Body       []byte
}

// Get asks route (with query q) and returns the answer whatever its status;
// it fails only when the engine does not answer (the *url.Error of the
// HTTP client) or answers more than MaxAnswer bytes.
func (c *Client) Get(ctx context.Context, route string, q url.Values) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(route, q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return c.answer(req)
}

func (c *Client) answer(req *http.Request) (*Reply, error) {
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp, c.limit())
	if err != nil {
		return nil, err
	}
	return &Reply{Status: resp.StatusCode, StatusLine: resp.Status, Body: data}, nil
}

// JSON is the answer's body when it is the engine's JSON: an {"error": …}
// (any status) is an *EngineError, another status than 2xx an *HTTPError,
// a body that is not JSON an error.
func (a *Reply) JSON() (json.RawMessage, error) {
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	jsonErr := json.Unmarshal(a.Body, &probe)
	if jsonErr == nil && len(probe.Error) > 0 && string(probe.Error) != "null" {
		var msg string
		if json.Unmarshal(probe.Error, &msg) != nil {
			msg = string(probe.Error)
		}
		return nil, &EngineError{Status: a.Status, Msg: msg}
	}
	if a.Status < 200 || a.Status > 299 {
		return nil, &HTTPError{Status: a.Status, Body: Snippet(a.Body)}
	}
	if jsonErr != nil && !json.Valid(a.Body) {
		return nil, fmt.Errorf("the answer is not JSON: %s", Snippet(a.Body))
	}
	return json.RawMessage(a.Body), nil
}

// GetJSON asks route and returns its JSON (see Reply.JSON for the errors).
func (c *Client) GetJSON(ctx context.Context, route string, q url.Values) (json.RawMessage, error) {
	a, err := c.Get(ctx, route, q)
	if err != nil {
		return nil, err
	}
	return a.JSON()
}

// Decode asks route and decodes its JSON into v.
func (c *Client) Decode(ctx context.Context, route string, v any) error {
	raw, err := c.GetJSON(ctx, route, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("the engine's answer is not the expected JSON: %w", err)
	}
	return nil
}

// Config is the model's config (get_config).
func (c *Client) Config(ctx context.Context) (json.RawMessage, error) {
	return c.GetJSON(ctx, RouteConfig, nil)
}

// ModelIO is the model's inputs and outputs (get_model_io).
func (c *Client) ModelIO(ctx context.Context) (json.RawMessage, error) {
	return c.GetJSON(ctx, RouteModelIO, nil)
}

// Legal is the model's licence texts (get_legal).
func (c *Client) Legal(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	return m, c.Decode(ctx, RouteLegal, &m)
}

// Samples is the URLs of the model's sample files (get_samples).
func (c *Client) Samples(ctx context.Context) ([]string, error) {
	var s []string
	return s, c.Decode(ctx, RouteSamples, &s)
}

// Ready asks the readiness route once: nil when it answers 200 OK.
func (c *Client) Ready(ctx context.Context) error { return Answers(ctx, c.http(), ReadyURL(c.Base)) }

// Answers asks u once with hc (nil: the shared client): nil when it
// answers 200 OK. The body is not read.
func Answers(ctx context.Context, hc *http.Client, u string) error {
	if hc == nil {
		hc = shared
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return nil
}

// PredictSample predicts on the model's sample file name (predict_sample).
func (c *Client) PredictSample(ctx context.Context, name string) (json.RawMessage, error) {
	return c.GetJSON(ctx, RoutePredictSample, url.Values{"filename": {name}})
}

// PredictURL asks the engine to fetch u itself (GET /api/predict?fileurl=).
func (c *Client) PredictURL(ctx context.Context, u string) (json.RawMessage, error) {
	return c.GetJSON(ctx, RoutePredict, url.Values{"fileurl": {u}})
}

// PredictFile uploads the file at path.
func (c *Client) PredictFile(ctx context.Context, path, filename, typ string) (json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return c.PredictReader(ctx, f, st.Size(), filename, typ)
}

// PredictReader uploads size bytes of r as the multipart field "file" named
// filename, of media type typ (POST /api/predict), and returns the engine's
// JSON (see Reply.JSON for the errors).
func (c *Client) PredictReader(ctx context.Context, r io.Reader, size int64, filename, typ string) (json.RawMessage, error) {
	req, err := c.uploadRequest(ctx, r, size, filename, typ)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	a, err := c.answer(req)
	if err != nil {
		return nil, err
	}
	return a.JSON()
}

// Upload is PredictReader's request with the answer unread, for a caller
// that relays it (the web UI): the caller closes its body.
func (c *Client) Upload(ctx context.Context, r io.Reader, size int64, filename, typ string) (*http.Response, error) {
	req, err := c.uploadRequest(ctx, r, size, filename, typ)
	if err != nil {
		return nil, err
	}
	return c.http().Do(req)
}

// uploadRequest is the POST of an upload. The body streams from r: the
// framing is computed up front, so the request has a Content-Length (as
// curl -F sends) and the file is never held in memory.
func (c *Client) uploadRequest(ctx context.Context, r io.Reader, size int64, filename, typ string) (*http.Request, error) {
	head, tail, ct, err := partHead(filename, typ)
	if err != nil {
		return nil, err
	}
	body := io.MultiReader(bytes.NewReader(head), io.LimitReader(r, size), bytes.NewReader(tail))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(RoutePredict, nil), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Content-Type", ct)
	return req, nil
}

// partHead returns the multipart framing around one file field "file":
// what comes before its bytes, what comes after, and the content type.
func partHead(filename, typ string) (head, tail []byte, contentType string, err error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(headerSafe(filename))))
	if typ == "" {
		typ = "application/octet-stream"
	}
	h.Set("Content-Type", typ)
	if _, err := mw.CreatePart(h); err != nil {
		return nil, nil, "", err
	}
	n := buf.Len()
	if err := mw.Close(); err != nil {
		return nil, nil, "", err
	}
	all := buf.Bytes()
	return all[:n:n], all[n:], mw.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

// headerSafe replaces the control characters of a file name (which a MIME
// header cannot carry: the engine refuses the whole upload) with '_'; the
// extension, which the engine reads, is kept.
func headerSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\r' && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
			return '_'
		}
		return r
	}, name)
}

// OpenOutput opens the output file at u (an output URL of an answer, or a
// path under OutputPrefix on this engine): the caller reads and closes it.
// A status other than 200 is an *HTTPError.
func (c *Client) OpenOutput(ctx context.Context, u string) (io.ReadCloser, error) {
	if strings.HasPrefix(u, "/") {
		u = c.URL(u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &HTTPError{Status: resp.StatusCode, Body: Snippet(data)}
	}
	return resp.Body, nil
}

// Download copies the output file at u into w.
func (c *Client) Download(ctx context.Context, u string, w io.Writer) (int64, error) {
	rc, err := c.OpenOutput(ctx, u)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

// readAnswer reads an answer of at most limit bytes into one buffer of
// its size: an announced larger one is refused before a byte is read, an
// unannounced one as soon as it passes the limit.
func readAnswer(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	r := io.LimitReader(resp.Body, limit+1)
	if resp.ContentLength >= 0 {
		buf := make([]byte, 0, resp.ContentLength+1) // +1: EOF is seen without growing
		for {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			switch {
			case int64(len(buf)) > limit:
				return nil, tooLarge(limit)
			case err == io.EOF:
				return buf, nil
			case err != nil:
				return nil, fmt.Errorf("read the answer: %w", err)
			case len(buf) == cap(buf): // longer than announced
				buf = append(buf, 0)[:len(buf)]
			}
		}
	}
	// unannounced: 1 MiB pieces, joined once at the end (growing one buffer
	// by doubling would allocate about four times the answer)
	var pieces [][]byte
	var total int64
	for {
		p := make([]byte, 1<<20)
		n, err := io.ReadFull(r, p)
		total += int64(n)
		if total > limit {
			return nil, tooLarge(limit)
		}
		pieces = append(pieces, p[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the answer: %w", err)
		}
	}
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	return bytes.Join(pieces, nil), nil
}

// tooLarge is ErrAnswerTooLarge, naming limit when it is not MaxAnswer.
func tooLarge(limit int64) error {
	if limit == MaxAnswer {
		return ErrAnswerTooLarge
	}
	return fmt.Errorf("the model's answer is larger than %d MiB, the limit for a JSON answer", limit>>20)
}

// Snippet is the start of an answer for an error message: white space
// folded, at most 200 characters.
func Snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
