package dicom

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// File is one image file of a series: where it is and its header.
type File struct {
	Path   string
	Header Header
	// Position is the file's ImagePositionPatient projected on the slice normal (mm).
	Position float64
}

// Series is one group of files with the same StudyInstanceUID, SeriesInstanceUID
// and orientation, ordered along the slice normal. Err says why it cannot be
// converted (nil when it can).
type Series struct {
	StudyInstanceUID  string
	SeriesInstanceUID string
	Modality          string
	Description       string
	SeriesNumber      string
	// Orientation is axial, coronal or sagittal (the plane closest to the
	// slices), or "" when the images carry no orientation.
	Orientation string
	Files       []File
	Err         error

	orientKey string
}

// Slices is the number of images in the series.
func (s *Series) Slices() int { return len(s.Files) }

// ID is a short, stable identifier of the series: a hash of its UIDs (and of its
// orientation, when one series holds several), never patient data.
func (s *Series) ID() string {
	sum := sha256.Sum256([]byte(s.StudyInstanceUID + "\x00" + s.SeriesInstanceUID + "\x00" + s.orientKey))
	return hex.EncodeToString(sum[:])[:8]
}

// Label names the series for people: its ID, description, modality and
// slices, e.g. `series 1a2b3c4d "AX T1" (MR, 5 slice(s))`. Description and
// modality come from the files: quoted, so no control character survives.
func (s *Series) Label() string {
	desc := s.Description
	if desc == "" {
		desc = "(no description)"
	}
	mod := strings.Trim(strconv.Quote(s.Modality), `"`)
	if mod == "" {
		mod = "no modality"
	}
	return fmt.Sprintf("series %s %s (%s, %d slice(s))", s.ID(), strconv.Quote(desc), mod, s.Slices())
}

// ScanResult is what a folder scan found.
type ScanResult struct {
	Series []*Series
	// Files is how many regular files were looked at; DICOM how many were DICOM
	// images; Ignored how many were not (non-DICOM, DICOMDIR, no pixel data).
	Files, DICOM, Ignored int
	// Unreadable lists DICOM files whose header could not be read (path: reason).
	Unreadable []string
	// BytesRead is how many bytes were read from disk to group the files.
	BytesRead int64
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ReadFileHeader reads the header of one file (not its pixel data) and reports
// how many bytes it read.
func ReadFileHeader(path string) (*Header, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	cr := &countingReader{r: f}
	rd, err := ReadHeader(cr)
	if err != nil {
		return nil, cr.n, err
	}
	return rd.Header(), cr.n, nil
}

// Scan walks the given files and folders (recursively; symbolic links are not
// followed into folders), reads every file's header and groups the images into
// series. Files that are not DICOM images are counted and ignored.
func Scan(ctx context.Context, paths []string) (*ScanResult, error) {
	res := &ScanResult{}
	groups := map[string]*Series{}
	var order []string
	add := func(path string) {
		res.Files++
		h, n, err := ReadFileHeader(path)
		res.BytesRead += n
		switch {
		case errors.Is(err, ErrNotDICOM), errors.Is(err, ErrDICOMDIR):
			res.Ignored++
			return
		case err != nil:
			res.Unreadable = append(res.Unreadable, fmt.Sprintf("%s: %v", path, err))
			return
		case !h.HasPixelData:
			res.Ignored++
			return
		}
		res.DICOM++
		ok := ""
		if h.HasOrientation {
			var b strings.Builder
			for _, v := range h.ImageOrientationPatient {
				fmt.Fprintf(&b, "%.3f,", v)
			}
			ok = strings.ReplaceAll(b.String(), "-0.000", "0.000")
		}
		key := h.StudyInstanceUID + "|" + h.SeriesInstanceUID + "|" + ok
		s := groups[key]
		if s == nil {
			s = &Series{StudyInstanceUID: h.StudyInstanceUID, SeriesInstanceUID: h.SeriesInstanceUID,
				Modality: h.Modality, Description: h.SeriesDescription, SeriesNumber: h.SeriesNumber, orientKey: ok}
			groups[key] = s
			order = append(order, key)
		}
		s.Files = append(s.Files, File{Path: path, Header: *h})
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if d.Type().IsRegular() {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
	}
	sort.Strings(order)
	for _, k := range order {
		s := groups[k]
		s.check()
		res.Series = append(res.Series, s)
	}
	sort.SliceStable(res.Series, func(i, j int) bool {
		a, b := res.Series[i], res.Series[j]
		if a.StudyInstanceUID != b.StudyInstanceUID {
			return a.StudyInstanceUID < b.StudyInstanceUID
		}
		if a.SeriesNumber != b.SeriesNumber {
			return seriesNumLess(a.SeriesNumber, b.SeriesNumber)
		}
		if a.SeriesInstanceUID != b.SeriesInstanceUID {
			return a.SeriesInstanceUID < b.SeriesInstanceUID
		}
		return len(a.Files) > len(b.Files)
	})
	return res, nil
}

func seriesNumLess(a, b string) bool {
	var x, y int
	_, ea := fmt.Sscan(a, &x)
	_, eb := fmt.Sscan(b, &y)
	if ea == nil && eb == nil {
		return x < y
	}
	return a < b
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// Directions returns the row direction (along a row: increasing column index),
// the column direction and the slice normal (row x column).
func (h *Header) Directions() (row, col, normal [3]float64) {
	o := h.ImageOrientationPatient
	row = [3]float64{o[0], o[1], o[2]}
	col = [3]float64{o[3], o[4], o[5]}
	return row, col, cross(row, col)
}

// PlaneName names the anatomical plane closest to a slice normal.
func PlaneName(n [3]float64) string {
	ax, ay, az := math.Abs(n[0]), math.Abs(n[1]), math.Abs(n[2])
	switch {
	case az >= ax && az >= ay:
		return "axial"
	case ay >= ax:
		return "coronal"
	default:
		return "sagittal"
	}
}

// Tolerances of the geometry checks, in millimetres.
const (
	positionTolerance = 0.01 // duplicates, stacking off the normal
	spacingTolerance  = 0.01 // plus spacingRelTolerance of the spacing
	spacingRelTol     = 0.001
)

// check orders the files along the slice normal and records in s.Err the first
// reason the series cannot be converted.
func (s *Series) check() {
	s.Err = s.validate()
}

// validate returns the first reason the series cannot be converted, in the
// order: supported encoding, one image size and pixel format, enough pixel
// data, then (for several slices) ordering, stacking, spacing and rescale.
func (s *Series) validate() error {
	if err := s.checkSupported(); err != nil {
		return err
	}
	if err := s.checkSameSize(); err != nil {
		return err
	}
	f0 := &s.Files[0].Header
	if err := f0.checkPixelFormat(); err != nil {
		return err
	}
	if err := s.checkPixelData(); err != nil {
		return err
	}
	if len(s.Files) == 1 {
		return s.placeSingle()
	}
	n, err := s.orderAlongNormal()
	if err != nil {
		return err
	}
	if err := s.checkStacked(n); err != nil {
		return err
	}
	if err := s.checkEvenSpacing(); err != nil {
		return err
	}
	return s.checkSpacingAndRescale()
}

// checkSupported refuses compressed transfer syntaxes this package cannot
// decode and multi-frame files.
func (s *Series) checkSupported() error {
	for i := range s.Files {
		h := &s.Files[i].Header
		if hint := CompressedHint(h.TransferSyntax); hint != "" {
			return errors.New(hint)
		}
		if h.NumberOfFrames > 1 {
			return fmt.Errorf("multi-frame images (%d frames in one file) are not supported; export the series as one file per slice", h.NumberOfFrames)
		}
	}
	return nil
}

// checkSameSize refuses a series whose files differ in size, samples per pixel
// or pixel type, listing each kind with its file count.
func (s *Series) checkSameSize() error {
	f0 := &s.Files[0].Header
	sizes := map[string]int{}
	var keys []string
	for i := range s.Files {
		h := &s.Files[i].Header
		k := fmt.Sprintf("%dx%d", h.Columns, h.Rows)
		if h.SamplesPerPixel != 1 {
			k += fmt.Sprintf(" (%d samples per pixel)", h.SamplesPerPixel)
		}
		if h.BitsAllocated != f0.BitsAllocated || h.PixelRepresentation != f0.PixelRepresentation {
			k += fmt.Sprintf(" %d-bit", h.BitsAllocated)
			if h.PixelRepresentation == 1 {
				k += " signed"
			}
		}
		if sizes[k] == 0 {
			keys = append(keys, k)
		}
		sizes[k]++
	}
	if len(keys) > 1 {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s (%d files)", k, sizes[k])
		}
		return fmt.Errorf("mixed image sizes: %s", strings.Join(parts, ", "))
	}
	return nil
}

// checkPixelData refuses an uncompressed file whose pixel data is shorter than
// its image needs.
func (s *Series) checkPixelData() error {
	for i := range s.Files {
		h := &s.Files[i].Header
		if !h.Compressed() && h.PixelDataLength < h.FrameBytes() {
			return fmt.Errorf("instance %d: pixel data holds %d bytes, a %dx%d image needs %d", h.InstanceNumber, h.PixelDataLength, h.Columns, h.Rows, h.FrameBytes())
		}
	}
	return nil
}

// placeSingle finishes a one-file series: its plane (when it has an orientation
// and position, whose directions must be valid) at position 0.
func (s *Series) placeSingle() error {
	f0 := &s.Files[0].Header
	if f0.HasOrientation && f0.HasPosition {
		r, c, n := f0.Directions()
		s.Orientation = PlaneName(n)
		if err := checkDirections(r, c); err != nil {
			return err
		}
	}
	s.Files[0].Position = 0
	return nil
}

// orderAlongNormal needs every slice to carry the same orientation and a
// position, sets the series' plane, projects each position on the slice normal,
// sorts the files along it and refuses duplicate positions. It returns the
// normal.
func (s *Series) orderAlongNormal() ([3]float64, error) {
	for i := range s.Files {
		h := &s.Files[i].Header
		if !h.HasOrientation {
			return [3]float64{}, errors.New("no ImageOrientationPatient: the slices cannot be ordered")
		}
		if !h.HasPosition {
			return [3]float64{}, errors.New("no ImagePositionPatient in some images: the slices cannot be ordered")
		}
	}
	r, c, n := s.Files[0].Header.Directions()
	if err := checkDirections(r, c); err != nil {
		return n, err
	}
	s.Orientation = PlaneName(n)
	for i := range s.Files {
		hr, hc, _ := s.Files[i].Header.Directions()
		for k := 0; k < 3; k++ {
			if math.Abs(hr[k]-r[k]) > 1e-4 || math.Abs(hc[k]-c[k]) > 1e-4 {
				return n, errors.New("inconsistent ImageOrientationPatient between slices")
			}
		}
		s.Files[i].Position = dot(s.Files[i].Header.ImagePositionPatient, n)
	}
	sort.SliceStable(s.Files, func(i, j int) bool { return s.Files[i].Position < s.Files[j].Position })
	for i := 1; i < len(s.Files); i++ {
		if d := s.Files[i].Position - s.Files[i-1].Position; d < positionTolerance {
			return n, fmt.Errorf("duplicate slice position %.3f mm along the normal (%d files there, e.g. instances %d and %d)",
				s.Files[i].Position, countAt(s.Files, s.Files[i].Position), s.Files[i-1].Header.InstanceNumber, s.Files[i].Header.InstanceNumber)
		}
	}
	return n, nil
}

// checkStacked refuses sorted slices that drift sideways from the normal n
// (gantry tilt or a sheared stack) by more than the tolerance.
func (s *Series) checkStacked(n [3]float64) error {
	p0 := s.Files[0].Header.ImagePositionPatient
	worst := 0.0
	for i := range s.Files {
		p := s.Files[i].Header.ImagePositionPatient
		d := [3]float64{p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]}
		along := dot(d, n)
		e := [3]float64{d[0] - along*n[0], d[1] - along*n[1], d[2] - along*n[2]}
		off := math.Sqrt(dot(e, e))
		worst = math.Max(worst, off)
	}
	if worst > positionTolerance+1e-4*math.Abs(s.Files[len(s.Files)-1].Position-s.Files[0].Position) {
		return fmt.Errorf("the slices are not stacked along their normal (gantry tilt or a sheared stack: up to %.3f mm off); not resampled", worst)
	}
	return nil
}

// checkEvenSpacing refuses sorted slices whose gaps differ by more than the
// spacing tolerance.
func (s *Series) checkEvenSpacing() error {
	gaps := make([]float64, len(s.Files)-1)
	for i := range gaps {
		gaps[i] = s.Files[i+1].Position - s.Files[i].Position
	}
	lo, hi := gaps[0], gaps[0]
	for _, g := range gaps {
		lo, hi = math.Min(lo, g), math.Max(hi, g)
	}
	mean := (s.Files[len(s.Files)-1].Position - s.Files[0].Position) / float64(len(gaps))
	if hi-lo > spacingTolerance+spacingRelTol*mean {
		return fmt.Errorf("uneven slice spacing: gaps from %.3f to %.3f mm (differ by %.3f mm); not resampled", lo, hi, hi-lo)
	}
	return nil
}

// checkSpacingAndRescale needs a valid PixelSpacing, the same in every slice,
// and a non-zero RescaleSlope in each.
func (s *Series) checkSpacingAndRescale() error {
	f0 := &s.Files[0].Header
	if !f0.HasPixelSpacing || f0.PixelSpacing[0] <= 0 || f0.PixelSpacing[1] <= 0 {
		return errors.New("no valid PixelSpacing")
	}
	for i := range s.Files {
		h := &s.Files[i].Header
		if h.RescaleSlope == 0 {
			return fmt.Errorf("RescaleSlope 0 in instance %d", h.InstanceNumber)
		}
		if math.Abs(h.PixelSpacing[0]-f0.PixelSpacing[0]) > 1e-4 || math.Abs(h.PixelSpacing[1]-f0.PixelSpacing[1]) > 1e-4 {
			return errors.New("PixelSpacing differs between slices")
		}
	}
	return nil
}

func countAt(files []File, pos float64) int {
	n := 0
	for _, f := range files {
		if math.Abs(f.Position-pos) < positionTolerance {
			n++
		}
	}
	return n
}

func checkDirections(r, c [3]float64) error {
	if math.Abs(dot(r, r)-1) > 1e-3 || math.Abs(dot(c, c)-1) > 1e-3 || math.Abs(dot(r, c)) > 1e-3 {
		return fmt.Errorf("ImageOrientationPatient %v is not two orthogonal unit vectors", append(r[:], c[:]...))
	}
	return nil
}
