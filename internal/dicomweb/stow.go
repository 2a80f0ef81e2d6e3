package dicomweb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom"
)

// Stored is what the server said of one instance sent by Store.
type Stored struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	// File is the path of the file sent, as given to Store.
	File     string `json:"file"`
	Accepted bool   `json:"accepted"`
	// Reason is why it was refused: the Failure Reason code (PS3.18 Table
	// I.2-1) and what it means; or that the server did not mention it.
	Reason string `json:"reason,omitempty"`
}

// Store sends files (DICOM Part 10, e.g. SEGs) to the server (STOW-RS, one
// multipart/related request to /studies/{study}) and returns, per file,
// whether the server accepted it. An error is a request that failed as a
// whole (network, credentials, an answer that is not DICOM JSON); a refused
// instance is a Stored with Accepted false.
func (c *Client) Store(ctx context.Context, study string, files []string) ([]Stored, error) {
	if !ValidUID(study) {
		return nil, fmt.Errorf("%q is not a study UID", sanitize(study))
	}
	out := make([]Stored, len(files))
	index := map[string]int{}
	for i, f := range files {
		h, _, err := dicom.ReadFileHeader(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if fi.Size() > c.Limits.Instance {
			return nil, fmt.Errorf("%s is larger than %d MiB", f, c.Limits.Instance>>20)
		}
		if h.StudyInstanceUID != study {
			return nil, fmt.Errorf("%s belongs to study %s, not %s: not sent", f, h.StudyInstanceUID, study)
		}
		out[i] = Stored{SOPInstanceUID: h.SOPInstanceUID, File: f}
		index[h.SOPInstanceUID] = i
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "modelhub-" + hex.EncodeToString(rnd[:])
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeParts(pw, boundary, files)) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A server that stops reading the upload would block the request
	// forever (the transport's header timeout starts only once the body is
	// sent): the upload, too, ends after Limits.Idle without progress.
	body := c.drain(pr, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/studies/"+study, nil), body)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+boundary)
	req.Header.Set("Accept", "application/dicom+json, application/json")
	// 409: every instance refused; the body says why
	resp, err := c.do(req, StudyWhat(study), http.StatusConflict)
	pr.Close()
	if body.finish() {
		if err == nil {
			resp.Body.Close()
		}
		// the server may have kept some instances: a rerun sends all again
		// (STOW of an instance the server holds replaces or keeps it)
		return nil, fmt.Errorf("the DICOMweb server %s stopped reading the upload to study %s for %s: the SEG may not be stored; try again later (a rerun sends it again)", c.base.Host, study, c.Limits.Idle)
	}
	if err != nil {
		var se *StatusError
		cut, failed := body.cut()
		switch {
		case ctx.Err() != nil || errors.As(err, &se):
		case failed != nil:
			return nil, fmt.Errorf("send to study %s: %w", study, failed)
		case cut:
			return nil, fmt.Errorf("the DICOMweb server %s closed the connection during the upload to study %s: the SEG may not be stored; try again later (a rerun sends it again)", c.base.Host, study)
		}
		return nil, err
	}
	defer resp.Body.Close()
	ds, err := c.readStowAnswer(resp, cancel, study)
	if err != nil {
		return nil, err
	}
	mentioned := map[string]bool{}
	for _, d := range ds {
		for _, it := range d.Items(TagReferencedSOPSeq) {
			uid := it.String(TagReferencedSOPUID)
			if i, ok := index[uid]; ok {
				out[i].Accepted = true
				out[i].Reason = ""
				mentioned[uid] = true
			}
		}
		for _, it := range d.Items(TagFailedSOPSequence) {
			uid := it.String(TagReferencedSOPUID)
			if i, ok := index[uid]; ok {
				out[i].Accepted = false
				out[i].Reason = FailureReason(it.Int(TagFailureReason))
				mentioned[uid] = true
			}
		}
	}
	for i := range out {
		if !mentioned[out[i].SOPInstanceUID] {
			switch {
			case resp.StatusCode == http.StatusOK && len(ds) == 0:
				out[i].Accepted = true // 200 with no body: all stored
			case resp.StatusCode == http.StatusConflict:
				out[i].Reason = "the server refused the request (409 Conflict) without naming this instance"
			default:
				out[i].Reason = "the server's answer lists it neither as stored nor as failed: not stored"
			}
		}
	}
	return out, nil
}

// readStowAnswer reads the STOW-RS answer: one DICOM JSON dataset (some
// servers send an array of one).
func (c *Client) readStowAnswer(resp *http.Response, cancel context.CancelFunc, study string) ([]Dataset, error) {
	data, err := io.ReadAll(io.LimitReader(c.idle(resp.Body, cancel), c.Limits.JSON+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s to storing into study %s: %w", c.base.Host, study, err)
	}
	if int64(len(data)) > c.Limits.JSON {
		return nil, fmt.Errorf("the DICOMweb server %s answered more than %d MiB to a store: refused", c.base.Host, c.Limits.JSON>>20)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "[") {
		s = "[" + s + "]"
	}
	ds, _, err := c.readDatasets(strings.NewReader(s), nil, StudyWhat(study), c.Limits.JSON)
	return ds, err
}

// uploadReader is a request body that cancels the request when the
// transport takes nothing from it for d (a server that stopped reading).
type uploadReader struct {
	r     io.Reader
	d     time.Duration
	timer *time.Timer
	mu    sync.Mutex
	n     int64 // bytes the transport has taken
	fired bool  // the idle bound ended the upload
	done  bool  // the transport read to the end (or the body failed)
	// finished: the request is over; the bound no longer applies
	finished bool
	err      error // the body's own failure (a file that could not be read)
}

// drain wraps a request body so that an upload without progress for
// Limits.Idle cancels the request (through cancel).
func (c *Client) drain(r io.Reader, cancel context.CancelFunc) *uploadReader {
	u := &uploadReader{r: r, d: c.Limits.Idle}
	if u.d > 0 {
		u.timer = time.AfterFunc(u.d, func() {
			u.mu.Lock()
			fire := !u.done && !u.finished
			u.fired = fire
			u.mu.Unlock()
			if fire {
				cancel()
			}
		})
	}
	return u
}

func (u *uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.n += int64(n)
	switch {
	case err != nil:
		u.done = true
		if err != io.EOF && err != io.ErrClosedPipe {
			u.err = err
		}
		if u.timer != nil {
			u.timer.Stop()
		}
	case n > 0 && u.timer != nil && !u.fired:
		u.timer.Reset(u.d)
	}
	return n, err
}

// finish ends the idle bound (the request is over, or its answer is
// being read under the answer's own bound) and reports whether it had
// ended the upload.
func (u *uploadReader) finish() (stalled bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.timer != nil {
		u.timer.Stop()
	}
	u.finished = true
	return u.fired
}

// cut reports whether the upload began but did not end; failed is the
// body's own failure, if any.
func (u *uploadReader) cut() (cut bool, failed error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n > 0 && !u.done, u.err
}

// writeParts writes the multipart body of a STOW request.
func writeParts(w io.Writer, boundary string, files []string) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	for _, f := range files {
		part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			return err
		}
		in, err := os.Open(f)
		if err != nil {
			return err
		}
		_, err = io.Copy(part, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	return mw.Close()
}

// FailureReason explains a STOW-RS Failure Reason code (PS3.18 Table I.2-1
// and PS3.4 Annex B).
func FailureReason(code int) string {
	var why string
	switch {
	case code == 0x0110:
		why = "processing failure"
	case code == 0x0112:
		why = "no such object instance"
	case code == 0x0122:
		why = "the server does not store this SOP class"
	case code == 0x0124:
		why = "not authorized"
	case code == 0xA700 || code&0xFF00 == 0xA700:
		why = "out of resources"
	case code == 0xA900 || code&0xFF00 == 0xA900:
		why = "data set does not match SOP class"
	case code == 0xC122:
		why = "referenced transfer syntax not supported"
	case code&0xF000 == 0xC000:
		why = "cannot understand"
	case code == 0:
		return "refused (no failure reason given)"
	default:
		why = "refused"
	}
	return fmt.Sprintf("%s (failure reason 0x%04X = %s)", why, code, strconv.Itoa(code))
}
