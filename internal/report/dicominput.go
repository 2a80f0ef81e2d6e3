package report

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

// seriesScans are the DICOM folders scanned for one report, by path: the
// cases of one folder (a PACS export of many series) share one scan.
type seriesScans map[string]*dicom.ScanResult

// load draws the DICOM series a case was converted from (its folder or file
// as given to predict), so that masks go over it: its voxels in the
// [z, y, x] order the engine's masks have. Only headers and pixels are read:
// dicom.Header has no patient field.
func (sc seriesScans) load(o predict.SeriesOrigin, lim ndarray.Limits) (*Volume, error) {
	if o.Source == "" || o.SeriesInstanceUID == "" {
		return nil, errors.New("no DICOM series recorded")
	}
	res, ok := sc[o.Source]
	if !ok {
		var err error
		if res, err = dicom.Scan(context.Background(), []string{o.Source}); err != nil {
			return nil, err
		}
		sc[o.Source] = res
	}
	for _, s := range res.Series {
		if s.SeriesInstanceUID != o.SeriesInstanceUID || s.ID() != o.SeriesID {
			continue
		}
		h := &s.Files[0].Header
		max := lim.MaxBytes
		if max <= 0 {
			max = ndarray.DefaultMaxBytes
		}
		if n := int64(h.Rows) * int64(h.Columns) * int64(len(s.Files)) * 4; n > max {
			return nil, fmt.Errorf("the series (%d MiB) is too large for a preview", n>>20)
		}
		v, err := s.Load(context.Background())
		if err != nil {
			return nil, err
		}
		a := &ndarray.Array{Shape: []int{v.Dims[2], v.Dims[1], v.Dims[0]}, Data: v.Data}
		switch v.Type {
		case dicom.Uint8:
			a.Type = ndarray.DType{Kind: ndarray.Uint, Size: 1}
		case dicom.Int16:
			a.Type = ndarray.DType{Kind: ndarray.Int, Size: 2}
		case dicom.Uint16:
			a.Type = ndarray.DType{Kind: ndarray.Uint, Size: 2}
		case dicom.Float32:
			a.Type = ndarray.DType{Kind: ndarray.Float, Size: 4}
		default:
			return nil, errors.New("a colour series is not drawn")
		}
		return FromArray(a)
	}
	return nil, fmt.Errorf("series %s is no longer in %s", o.SeriesID, o.Source)
}
