package predict

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/medconv"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// DICOMOptions say how DICOM inputs become what the model takes.
type DICOMOptions struct {
	Rules  []dicom.Rule    // --series; all must hold
	Window *medconv.Window // --window for PNG/JPEG models (nil: the image's own)
	// Stage is an existing folder the converted inputs are written to; the
	// caller removes it after the batch.
	Stage string
	Ctx   context.Context
	// Match are the rules (--match NAME=RULES) that pick, in a case folder,
	// the series of each input of a model with several volume inputs; an
	// input without rules takes the series whose description holds its name
	// as a word (t1 matches "AX T1 MPRAGE", not "T1C").
	Match map[string][]dicom.Rule
}

// SeriesOrigin names the DICOM series an input was converted from and how.
// It holds UIDs and the series description, never patient data.
type SeriesOrigin struct {
	Input             string `json:"input,omitempty"` // the model input it feeds (multi-input models)
	Source            string `json:"source"`          // the file or folder given
	StudyInstanceUID  string `json:"study_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	SeriesID          string `json:"series_id"`
	Modality          string `json:"modality"`
	Description       string `json:"series_description"`
	Slices            int    `json:"slices"`
	Conversion        string `json:"conversion"`
}

// SeriesDecision records, for provenance and for the user, whether a series
// found in a DICOM input was used and why not.
type SeriesDecision struct {
	Source            string `json:"source"`
	StudyInstanceUID  string `json:"study_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	SeriesID          string `json:"series_id"`
	Modality          string `json:"modality"`
	Description       string `json:"series_description"`
	Slices            int    `json:"slices"`
	Selected          bool   `json:"selected"`
	Reason            string `json:"reason,omitempty"` // why it was left out
	Label             string `json:"-"`                // for people: description, ID, modality, slices
}

// dicomTarget is what a model input with these formats takes from a series:
// NIfTI for NIfTI formats, PNG for image formats; "" when it takes DICOM itself
// or neither.
func dicomTarget(formats []string) medconv.Target {
	if filetype.Accepts(formats, filetype.DICOM) {
		return ""
	}
	if filetype.Accepts(formats, filetype.NIIGzip) || filetype.Accepts(formats, filetype.NII) {
		return medconv.NIfTI
	}
	if filetype.Accepts(formats, "image/png") || filetype.Accepts(formats, "image/jpeg") {
		return medconv.PNG
	}
	return ""
}

func convertedType(to medconv.Target) string {
	if to == medconv.PNG {
		return "image/png"
	}
	return filetype.NIIGzip
}

// scanDICOM scans abs when it is DICOM: a file whose type is application/dicom,
// or a folder whose scan finds DICOM images (ok false otherwise).
func (c *collector) scanDICOM(abs string) (*dicom.ScanResult, bool, error) {
	if c.dicom == nil {
		return nil, false, nil
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		if typ, _ := filetype.Detect(abs); typ != filetype.DICOM {
			return nil, false, nil
		}
	}
	ctx := c.dicom.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := dicom.Scan(ctx, []string{abs})
	if err != nil {
		return nil, false, err
	}
	if res.DICOM == 0 {
		return res, false, nil
	}
	c.out.DICOMFiles += res.DICOM
	c.out.HeaderBytes += res.BytesRead
	return res, true, nil
}

// selectSeries applies the rules and records every decision.
func (c *collector) selectSeries(arg string, res *dicom.ScanResult, to medconv.Target) []*dicom.Series {
	var out []*dicom.Series
	for _, d := range dicom.Select(res.Series, c.dicom.Rules, usableFor(to)) {
		s := d.Series
		c.out.Series = append(c.out.Series, decision(arg, s, d.Selected, d.Reason))
		if d.Selected {
			out = append(out, s)
		}
	}
	for _, u := range res.Unreadable {
		c.skip(u, "unreadable DICOM file")
	}
	return out
}

// usableFor says why a model input of target to cannot take a series ("" when it can).
func usableFor(to medconv.Target) func(*dicom.Series) string {
	return func(s *dicom.Series) string {
		h := &s.Files[0].Header
		switch {
		case to == medconv.PNG && s.Slices() != 1:
			return fmt.Sprintf("%d slices; the model takes 2D images (one DICOM image per input)", s.Slices())
		case to == medconv.NIfTI && (!h.HasOrientation || !h.HasPosition):
			return "no ImagePositionPatient/ImageOrientationPatient: a 2D image, not a volume the model takes"
		}
		return ""
	}
}

// decision records a series found under arg: used or why not.
func decision(arg string, s *dicom.Series, selected bool, reason string) SeriesDecision {
	return SeriesDecision{Source: arg, StudyInstanceUID: s.StudyInstanceUID,
		SeriesInstanceUID: s.SeriesInstanceUID, SeriesID: s.ID(), Modality: s.Modality, Description: s.Description,
		Slices: s.Slices(), Selected: selected, Reason: reason, Label: s.Label()}
}

// convertSeries writes the model's input for a series into the stage folder.
func (c *collector) convertSeries(arg string, s *dicom.Series, to medconv.Target, input string) (string, SeriesOrigin, error) {
	dir := filepath.Join(c.dicom.Stage, fmt.Sprintf("%03d", len(c.out.Series)), s.ID())
	o := SeriesOrigin{Input: input, Source: arg, StudyInstanceUID: s.StudyInstanceUID, SeriesInstanceUID: s.SeriesInstanceUID,
		SeriesID: s.ID(), Modality: s.Modality, Description: s.Description, Slices: s.Slices()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", o, err
	}
	ctx := c.dicom.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	r, err := medconv.Convert(ctx, s, to, c.dicom.Window, dir)
	if err != nil {
		return "", o, err
	}
	if r.Error != "" {
		return "", o, errors.New(r.Error)
	}
	o.Conversion = r.Conversion
	return r.Output, o, nil
}

// itemName names a series' input: its description and ID (no patient data).
func itemName(s *dicom.Series) string {
	return strings.TrimSuffix(medconv.OutputName(s, ""), ".")
}

// dicomSingle turns a DICOM file or folder into one item per selected series
// for a single-input model. It reports false when abs holds no DICOM or the
// model takes DICOM files themselves.
func (c *collector) dicomSingle(arg, abs string) (bool, error) {
	to := dicomTarget(c.spec.Formats)
	if to == "" {
		return false, nil
	}
	res, ok, err := c.scanDICOM(abs)
	if err != nil || !ok {
		return false, err
	}
	for _, s := range c.selectSeries(arg, res, to) {
		p, o, err := c.convertSeries(arg, s, to, "")
		it := FileItem(itemName(s), p, convertedType(to))
		it.Origins, it.SourceArg, it.series = []SeriesOrigin{o}, arg, s
		if err != nil {
			if ctx := c.dicom.Ctx; ctx != nil && ctx.Err() != nil {
				return true, ctx.Err()
			}
			it.Path, it.Err = "", fmt.Errorf("convert %s: %w", itemName(s), err)
		}
		c.add(it)
	}
	return true, nil
}

// niftiCase passes a NIfTI file given to a model with one volume key through
// as one case, after checking its header (a 3D NIfTI-1 file modelhub can read).
func (c *collector) niftiCase(arg, abs string) (bool, error) {
	if len(c.spec.Inputs) != 1 {
		return false, nil
	}
	in := c.spec.Inputs[0]
	typ, err := filetype.Detect(abs)
	if err != nil || (typ != filetype.NIIGzip && typ != filetype.NII) || !filetype.Accepts(in.Formats, typ) {
		return false, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return true, err
	}
	defer f.Close()
	if _, _, err := nifti.ReadHeader(f); err != nil {
		return true, fmt.Errorf("%s: %w", arg, err)
	}
	if !c.seen[abs] {
		c.seen[abs] = true
		c.add(CaseItem(filetype.Stem(abs), []CaseFile{{Input: in.Name, Path: abs, Type: typ}}))
	}
	return true, nil
}

// dicomMulti is a DICOM folder given to a multi-input model with exactly one
// input: one case per selected series.
func (c *collector) dicomMulti(arg, abs string) (bool, error) {
	if c.dicom == nil {
		return false, nil
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		if done, err := c.niftiCase(arg, abs); done || err != nil {
			return done, err
		}
	}
	var vol []NamedInput
	for _, in := range c.spec.Inputs {
		if dicomTarget(in.Formats) != "" {
			vol = append(vol, in)
		}
	}
	if len(vol) == 0 {
		return false, nil
	}
	if len(c.spec.Inputs) != 1 {
		return c.dicomCases(arg, abs)
	}
	res, ok, err := c.scanDICOM(abs)
	if err != nil || !ok {
		return false, err
	}
	in := c.spec.Inputs[0]
	to := dicomTarget(in.Formats)
	for _, s := range c.selectSeries(arg, res, to) {
		p, o, err := c.convertSeries(arg, s, to, in.Name)
		it := CaseItem(itemName(s), nil)
		it.Origins = []SeriesOrigin{o}
		if err != nil {
			if ctx := c.dicom.Ctx; ctx != nil && ctx.Err() != nil {
				return true, ctx.Err()
			}
			it.Err = fmt.Errorf("convert %s: %w", itemName(s), err)
		} else {
			it.Case = []CaseFile{{Input: in.Name, Path: p, Type: convertedType(to), Source: arg, series: s}}
		}
		c.add(it)
	}
	return true, nil
}

// dicomCaseFile is --input NAME=PATH where PATH is a DICOM series (folder or
// file): exactly one series must be selected.
func (c *collector) dicomCaseFile(in NamedInput, arg, abs string) (CaseFile, *SeriesOrigin, bool, error) {
	to := dicomTarget(in.Formats)
	if to == "" {
		return CaseFile{}, nil, false, nil
	}
	res, ok, err := c.scanDICOM(abs)
	if err != nil || !ok {
		return CaseFile{}, nil, false, err
	}
	sel := c.selectSeries(arg, res, to)
	switch len(sel) {
	case 0:
		var why []string
		for _, d := range c.out.Series {
			if d.Source == arg && !d.Selected {
				why = append(why, d.Label+": "+d.Reason)
			}
		}
		return CaseFile{}, nil, true, fmt.Errorf("--input %s=%s: no series selected (%s)", in.Name, arg, strings.Join(why, "; "))
	case 1:
	default:
		var ids []string
		for _, s := range sel {
			ids = append(ids, s.ID())
		}
		return CaseFile{}, nil, true, fmt.Errorf("--input %s=%s holds %d usable series (%s): pick one with --series (e.g. --series largest or uid=…)", in.Name, arg, len(sel), strings.Join(ids, ", "))
	}
	p, o, err := c.convertSeries(arg, sel[0], to, in.Name)
	if err != nil {
		return CaseFile{}, nil, true, fmt.Errorf("--input %s=%s: %w", in.Name, arg, err)
	}
	return CaseFile{Input: in.Name, Path: p, Type: convertedType(to), Source: arg, series: sel[0]}, &o, true, nil
}
