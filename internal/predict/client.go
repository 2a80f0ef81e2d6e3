package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
)

// Client talks to one model's REST API.
type Client struct {
	// Base is the API's base URL, e.g. http://127.0.0.1:8000.
	Base string
	HTTP *http.Client
}

// NewHTTPClient is a client for a model on loopback: no proxy, jobs
// connections kept alive (one per request in flight), no overall timeout (each
// request carries its own deadline).
func NewHTTPClient(jobs int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        max(jobs, 2),
		MaxIdleConnsPerHost: max(jobs, 2),
		DisableCompression:  true,
	}}
}

// MaxAnswer bounds an engine's JSON answer. An engine puts a large output
// (a volume, a mask) in a file under /api/output/, which predict streams to
// disk (-o); inline, the answer is held, parsed and logged, a few copies of
// it at once. 16 MiB is four times the largest inline answer of the
// published models (a 512×512 mask as a nested list is about 1 MiB) and keeps
// predict under 64 MiB per answer in flight; a larger answer is refused
// without being read (see BenchmarkRunner_largeAnswer).
const MaxAnswer = 16 << 20

// ErrAnswerTooLarge: the engine's JSON answer is larger than MaxAnswer.
var ErrAnswerTooLarge = fmt.Errorf("the model's answer is larger than %d MiB, the limit for a JSON answer (a model should save a large output to a file under /api/output/, which predict -o downloads to disk)", MaxAnswer>>20)

// EngineError is a prediction the engine refused or failed: its {"error": …}.
type EngineError struct {
	Status int
	Msg    string
}

func (e *EngineError) Error() string { return "the model answered: " + e.Msg }

// HTTPError is an answer that is not the engine's JSON.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
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

// PredictReader uploads size bytes of r as the multipart field "file" named
// filename (POST /api/predict). The body streams from r: the framing is
// computed up front, so the request has a Content-Length (as curl -F sends)
// and the file is never held in memory.
func (c *Client) PredictReader(ctx context.Context, r io.Reader, size int64, filename, typ string) (json.RawMessage, error) {
	head, tail, ct, err := partHead(filename, typ)
	if err != nil {
		return nil, err
	}
	body := io.MultiReader(bytes.NewReader(head), io.LimitReader(r, size), bytes.NewReader(tail))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/api/predict", body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json")
	return c.do(req)
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

// PredictURL asks the engine to fetch u itself (GET /api/predict?fileurl=).
func (c *Client) PredictURL(ctx context.Context, u string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/api/predict?fileurl="+url.QueryEscape(u), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return c.do(req)
}

func (c *Client) do(req *http.Request) (json.RawMessage, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	jsonErr := json.Unmarshal(data, &probe)
	if jsonErr == nil && len(probe.Error) > 0 && string(probe.Error) != "null" {
		var msg string
		if json.Unmarshal(probe.Error, &msg) != nil {
			msg = string(probe.Error)
		}
		return nil, &EngineError{Status: resp.StatusCode, Msg: msg}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{Status: resp.StatusCode, Body: snippet(data)}
	}
	if jsonErr != nil && !json.Valid(data) {
		return nil, fmt.Errorf("the answer is not JSON: %s", snippet(data))
	}
	return json.RawMessage(data), nil
}

// readAnswer reads an answer of at most MaxAnswer bytes into one buffer of
// its size: an announced larger one is refused before a byte is read, an
// unannounced one as soon as it passes the limit.
func readAnswer(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > MaxAnswer {
		return nil, ErrAnswerTooLarge
	}
	size := 64 << 10
	if resp.ContentLength >= 0 {
		size = int(resp.ContentLength) + 1 // +1: EOF is seen without growing
	}
	r := io.LimitReader(resp.Body, MaxAnswer+1)
	if resp.ContentLength >= 0 {
		buf := make([]byte, 0, size)
		for {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			switch {
			case len(buf) > MaxAnswer:
				return nil, ErrAnswerTooLarge
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
	total := 0
	for {
		p := make([]byte, 1<<20)
		n, err := io.ReadFull(r, p)
		total += n
		if total > MaxAnswer {
			return nil, ErrAnswerTooLarge
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

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Download fetches the engine's output file at u into w.
func (c *Client) Download(ctx context.Context, u string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &HTTPError{Status: resp.StatusCode, Body: snippet(data)}
	}
	return io.Copy(w, resp.Body)
}

// OutputURL is an output the engine saved to a file: its index in the answer's
// output list, its name and where to fetch it.
type OutputURL struct {
	Index int
	Name  string
	URL   string
}

// Answer is the part of a prediction modelhub reads.
type Answer struct {
	Output []struct {
		Prediction FileRef `json:"prediction"`
		Shape      []int   `json:"shape"`
		Type       string  `json:"type"`
		Name       string  `json:"name"`
	} `json:"output"`
}

// FileRef is an output's prediction when it is a string (the URL of a file
// the engine saved); any other prediction (a list, a mask) is skipped
// without being copied.
type FileRef string

// UnmarshalJSON keeps a JSON string and ignores anything else.
func (f *FileRef) UnmarshalJSON(b []byte) error {
	*f = ""
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FileRef(s)
	}
	return nil
}

// ParseAnswer decodes the outputs of a prediction.
func ParseAnswer(raw json.RawMessage) (*Answer, error) {
	var a Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("the answer is not a prediction: %w", err)
	}
	return &a, nil
}

// Files lists the outputs whose prediction is a URL under /api/output/,
// rewritten onto the client's base URL (the engine builds them from the Host
// it was asked on, which is ours; a proxy in between could differ).
func (c *Client) Files(a *Answer) []OutputURL {
	var out []OutputURL
	for i, o := range a.Output {
		s := string(o.Prediction)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || !strings.HasPrefix(u.Path, "/api/output/") {
			continue
		}
		out = append(out, OutputURL{Index: i, Name: o.Name, URL: strings.TrimRight(c.Base, "/") + u.EscapedPath()})
	}
	return out
}

// errInterrupted marks work stopped by the caller's context.
var errInterrupted = errors.New("interrupted")
