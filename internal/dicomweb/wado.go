package dicomweb

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dicom"
)

// FetchOptions tune FetchStudy.
type FetchOptions struct {
	// Progress, when set, is called after each instance written or found.
	Progress func(Progress)
	// Skip, when set, leaves out the series it returns true for (e.g. a
	// SEG stored back earlier).
	Skip func(Series) bool
}

// Progress is how far a fetch is.
type Progress struct {
	Series      string // the series being fetched
	Done, Total int    // instances of the study on disk, and in all
	Bytes       int64  // bytes written in this run
}

// Fetched is what FetchStudy did.
type Fetched struct {
	Series []FetchedSeries
	// Skipped are the series FetchOptions.Skip left out.
	Skipped []Series
	// Fetched instances were written now, Present were complete on disk
	// from an earlier run; Bytes were written now.
	Fetched, Present int
	Bytes            int64
}

// FetchedSeries is one series of a fetched study; Dir is its folder,
// relative to the destination (the series UID).
type FetchedSeries struct {
	Series
	Dir              string
	Fetched, Present int
}

// Layout: dest/<series UID>/<SOP instance UID>.dcm. A file there is
// complete: instances are written to a temporary file in the same folder
// and renamed when their last byte has arrived.
const (
	instanceExt = ".dcm"
	tmpPrefix   = ".fetch-"
	tmpSuffix   = ".tmp"
)

// FetchStudy retrieves a study (WADO-RS) into dest, one folder per series.
// Instances already on disk are kept: a series with none is retrieved whole
// (one multipart answer), a series with some only its missing instances,
// one by one, so a rerun after an interruption resumes where it stopped.
func (c *Client) FetchStudy(ctx context.Context, study, dest string, opt FetchOptions) (*Fetched, error) {
	series, err := c.Series(ctx, study)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	out := &Fetched{}
	plans, total, err := c.planFetch(ctx, root, study, series, opt, out)
	if err != nil {
		return nil, err
	}
	prog := Progress{Total: total}
	report := func(s string) {
		if opt.Progress != nil {
			prog.Series = s
			opt.Progress(prog)
		}
	}
	for _, p := range plans {
		if err := c.fetchSeries(ctx, root, study, p, out, &prog, report); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, fmt.Errorf("fetch series %s of study %s from %s: %w; %d of %d instance(s) of the study are on disk, rerun to resume", p.s.UID, study, c.base.Host, err, prog.Done, total)
		}
	}
	return out, nil
}

// seriesPlan is what to fetch of one series.
type seriesPlan struct {
	s       Series
	whole   bool     // nothing on disk: the series in one answer, s.Instances of them
	want    []string // else its instances (QIDO) and those not on disk
	missing []string
}

// planFetch decides, series by series, what to fetch: the series the
// options skip are recorded in out, a series UID that is not a UID refuses
// the study, a series with nothing on disk is fetched whole, else its
// instance list (which must hold as many as the series counts) says what is
// missing. It returns the plans and the number of instances in them.
func (c *Client) planFetch(ctx context.Context, root *os.Root, study string, series []Series, opt FetchOptions, out *Fetched) ([]seriesPlan, int, error) {
	var plans []seriesPlan
	total := 0
	for _, s := range series {
		if opt.Skip != nil && opt.Skip(s) {
			out.Skipped = append(out.Skipped, s)
			continue
		}
		if !ValidUID(s.UID) {
			return nil, 0, fmt.Errorf("the DICOMweb server %s listed a series UID %q in study %s: not a UID, refused", c.base.Host, c.safe(s.UID), study)
		}
		if err := root.MkdirAll(s.UID, 0o755); err != nil {
			return nil, 0, err
		}
		removeTemps(root, s.UID)
		p := seriesPlan{s: s}
		if s.Instances > 0 && !anyInstance(root, s.UID) {
			// the usual first fetch: no instance list needed (listing 300
			// instances costs Orthanc about as much as sending them)
			p.whole = true
			total += s.Instances
			plans = append(plans, p)
			continue
		}
		want, err := c.Instances(ctx, study, s.UID)
		if err != nil {
			return nil, 0, err
		}
		if s.Instances > len(want) {
			// a server capping its QIDO answers without saying so: the
			// instances beyond the cap would silently be missing
			return nil, 0, fmt.Errorf("the DICOMweb server %s lists %d instance(s) of series %s of study %s but counts %d in its list of series: refused, the study would be incomplete (its QIDO answers may be capped: ask its administrators)", c.base.Host, len(want), s.UID, study, s.Instances)
		}
		p.want = want
		for _, uid := range want {
			if !complete(root, path.Join(s.UID, uid+instanceExt)) {
				p.missing = append(p.missing, uid)
			}
		}
		total += len(want)
		plans = append(plans, p)
	}
	return plans, total, nil
}

// fetchSeries fetches what p says is missing of one series (the whole
// series in one answer, the missing instances in one answer when none is on
// disk yet, else instance by instance), counting into out and prog and
// reporting progress as each instance lands. The series is recorded in out
// whether or not its fetch ends in an error.
func (c *Client) fetchSeries(ctx context.Context, root *os.Root, study string, p seriesPlan, out *Fetched, prog *Progress, report func(string)) error {
	fs := FetchedSeries{Series: p.s, Dir: p.s.UID, Present: len(p.want) - len(p.missing)}
	prog.Done += fs.Present
	out.Present += fs.Present
	if fs.Present > 0 {
		report(p.s.UID)
	}
	w := &writer{c: c, root: root, series: p.s.UID, study: study, onInstance: func(n int64) {
		fs.Fetched++
		out.Fetched++
		out.Bytes += n
		prog.Done++
		prog.Bytes += n
		report(p.s.UID)
	}}
	resource := "/studies/" + study + "/series/" + p.s.UID
	var err error
	switch {
	case p.whole:
		err = w.retrieve(ctx, resource, nil, p.s.Instances)
	case len(p.missing) == 0:
	case fs.Present == 0:
		err = w.retrieve(ctx, resource, p.missing, len(p.missing))
	default:
		for _, uid := range p.missing {
			if err = w.retrieve(ctx, resource+"/instances/"+uid, []string{uid}, 1); err != nil {
				break
			}
		}
	}
	out.Series = append(out.Series, fs)
	return err
}

// anyInstance reports whether a series folder holds an instance.
func anyInstance(root *os.Root, dir string) bool {
	f, err := root.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	for _, n := range names {
		if strings.HasSuffix(n, instanceExt) {
			return true
		}
	}
	return false
}

// complete: a regular file, not empty (a file is renamed into place only
// when complete).
func complete(root *os.Root, name string) bool {
	fi, err := root.Lstat(name)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// removeTemps removes what an interrupted run left in a series folder.
func removeTemps(root *os.Root, dir string) {
	f, err := root.Open(dir)
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		if strings.HasPrefix(n, tmpPrefix) && strings.HasSuffix(n, tmpSuffix) {
			root.Remove(path.Join(dir, n))
		}
	}
}

// writer writes the instances of one series answer into root/series.
type writer struct {
	c          *Client
	root       *os.Root
	study      string
	series     string
	onInstance func(bytes int64)
	buf        []byte // reused for every instance
}

// AcceptDICOM asks for the instances as stored (transfer-syntax=*): no
// transcoding by the server.
const AcceptDICOM = `multipart/related; type="application/dicom"; transfer-syntax=*`

// retrieve GETs a WADO-RS resource (a series or an instance) and writes its
// parts: count instances, each of want (nil: any instance of the series),
// each at most once.
func (w *writer) retrieve(ctx context.Context, resource string, want []string, count int) error {
	c := w.c
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(resource, nil), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", AcceptDICOM)
	// no gzip: DICOM pixels compress little and a local PACS is CPU-bound
	req.Header.Set("Accept-Encoding", "identity")
	what := "series " + w.series + " of study " + w.study
	if len(want) == 1 && count == 1 {
		what = "instance " + want[0] + " of " + what
	}
	resp, err := c.do(req, what)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	boundary, err := c.multipartBoundary(resp.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	gaps := &gapReader{r: c.idle(resp.Body, cancel), max: gapLimit}
	// multipart reads 4 KiB at a time: a large buffer under it saves
	// system calls
	mr := multipart.NewReader(bufio.NewReaderSize(gaps, 1<<20), boundary)
	var pending map[string]bool
	if want != nil {
		pending = map[string]bool{}
		for _, u := range want {
			pending[u] = true
		}
	}
	seen := map[string]bool{}
	got := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d of %d instance(s): %w", got, count, explainStream(ctx, err))
		}
		gaps.max = gaps.n + c.Limits.Instance + gapLimit
		if got == count {
			part.Close()
			return fmt.Errorf("the server sent more parts than the %d instance(s) it listed: refused", count)
		}
		if err := w.part(part, pending, seen); err != nil {
			return fmt.Errorf("after %d of %d instance(s): %w", got, count, explainStream(ctx, err))
		}
		got++
	}
	if got < count {
		return fmt.Errorf("the server sent %d of the %d instance(s) it listed", got, count)
	}
	return nil
}

// copyChunks copies r to w through buf, writing only full buffers (and
// the rest at the end): a multipart part reads 4 KiB at a time, and a write
// each time would cost a system call each.
func copyChunks(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var total int64
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		_, err := w.Write(buf[:n])
		total += int64(n)
		n = 0
		return err
	}
	for {
		m, err := r.Read(buf[n:])
		n += m
		if n == len(buf) {
			if werr := flush(); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, flush()
		}
		if err != nil {
			return total, err
		}
	}
}

// gapLimit bounds the bytes between parts (preamble, part headers).
const gapLimit = 2 << 20

// gapReader fails when more than max bytes have been read in all.
type gapReader struct {
	r      io.Reader
	n, max int64
}

var errTooLarge = errors.New("too large")

func (g *gapReader) Read(p []byte) (int, error) {
	if g.n > g.max {
		return 0, fmt.Errorf("the server sent more than %d bytes where a part's headers or an instance should be: %w", g.max, errTooLarge)
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

func explainStream(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, errTooLarge) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
		return errors.New("the connection closed in the middle of the answer (the server stopped or the network failed)")
	}
	return err
}

// multipartBoundary checks a WADO-RS answer's Content-Type: multipart/related
// with a boundary of at most 70 characters allowed by RFC 2046.
func (c *Client) multipartBoundary(ct string) (string, error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/related" {
		return "", fmt.Errorf("the server answered %q, not multipart/related DICOM: is the URL its DICOMweb root (e.g. …/dicom-web)?", c.safe(ct))
	}
	if t := params["type"]; t != "" && !strings.EqualFold(t, "application/dicom") {
		return "", fmt.Errorf("the server sent parts of type %q, not application/dicom", c.safe(t))
	}
	b := params["boundary"]
	if !validBoundary(b) {
		return "", fmt.Errorf("the server sent a multipart answer with an invalid boundary %q (RFC 2046: 1 to 70 letters, digits or '()+_,-./:=? ): refused", c.safe(b))
	}
	return b, nil
}

func validBoundary(b string) bool {
	if len(b) == 0 || len(b) > 70 || strings.HasSuffix(b, " ") {
		return false
	}
	for _, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("'()+_,-./:=? ", r)
		if !ok {
			return false
		}
	}
	return true
}

// part writes one instance: to a temporary file, then checked (a DICOM
// header naming this series and an instance of pending, or with pending nil
// any instance of the series not seen yet) and renamed.
func (w *writer) part(p *multipart.Part, pending, seen map[string]bool) error {
	defer p.Close()
	if ct := p.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/dicom" && mt != "application/octet-stream") {
			return fmt.Errorf("the server sent a part of type %q, not application/dicom", w.c.safe(ct))
		}
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(w.series, tmpPrefix+hex.EncodeToString(rnd[:])+tmpSuffix)
	f, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			w.root.Remove(tmp)
		}
	}()
	limit := w.c.Limits.Instance
	if w.buf == nil {
		w.buf = make([]byte, 1<<20)
	}
	n, err := copyChunks(f, io.LimitReader(p, limit+1), w.buf)
	if err != nil {
		return err
	}
	if n > limit {
		return fmt.Errorf("the server sent an instance larger than %d MiB: refused", limit>>20)
	}
	if err := f.Close(); err != nil {
		return err
	}
	keep = true
	h, err := w.header(tmp)
	if err != nil {
		w.root.Remove(tmp)
		return err
	}
	ok := ValidUID(h.SOPInstanceUID) && h.SeriesInstanceUID == w.series && !seen[h.SOPInstanceUID]
	if pending != nil {
		ok = ok && pending[h.SOPInstanceUID]
	}
	if !ok {
		w.root.Remove(tmp)
		if ValidUID(h.SOPInstanceUID) && h.SeriesInstanceUID == w.series {
			return fmt.Errorf("the server sent instance %s twice or unasked: refused", h.SOPInstanceUID)
		}
		return fmt.Errorf("the server sent an instance (%q) that is not one of series %s: refused", w.c.safe(h.SOPInstanceUID), w.series)
	}
	seen[h.SOPInstanceUID] = true
	if err := w.root.Rename(tmp, path.Join(w.series, h.SOPInstanceUID+instanceExt)); err != nil {
		w.root.Remove(tmp)
		return err
	}
	w.onInstance(n)
	return nil
}

func (w *writer) header(name string) (*dicom.Header, error) {
	f, err := w.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := dicom.ReadHeader(f)
	if err != nil {
		return nil, fmt.Errorf("the server sent a part that is not a DICOM instance: %v", err)
	}
	return rd.Header(), nil
}
