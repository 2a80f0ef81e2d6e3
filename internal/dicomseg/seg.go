package dicomseg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom"
)

// SOP classes.
const (
	SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"
)

var (
	tagSpecificCharacterSet = T(0x0008, 0x0005)
	tagImageType            = T(0x0008, 0x0008)
	tagInstanceCreationDate = T(0x0008, 0x0012)
	tagInstanceCreationTime = T(0x0008, 0x0013)
	tagSOPClassUID          = T(0x0008, 0x0016)
	tagSOPInstanceUID       = T(0x0008, 0x0018)
	tagSeriesDate           = T(0x0008, 0x0021)
	tagContentDate          = T(0x0008, 0x0023)
	tagSeriesTime           = T(0x0008, 0x0031)
	tagContentTime          = T(0x0008, 0x0033)
	tagModality             = T(0x0008, 0x0060)
	tagManufacturer         = T(0x0008, 0x0070)
	tagCodeValue            = T(0x0008, 0x0100)
	tagCodingScheme         = T(0x0008, 0x0102)
	tagCodeMeaning          = T(0x0008, 0x0104)
	tagSeriesDescription    = T(0x0008, 0x103E)
	tagManufacturerModel    = T(0x0008, 0x1090)
	tagReferencedSeriesSeq  = T(0x0008, 0x1115)
	tagReferencedInstSeq    = T(0x0008, 0x114A)
	tagReferencedSOPClass   = T(0x0008, 0x1150)
	tagReferencedSOPInst    = T(0x0008, 0x1155)
	tagDerivationDesc       = T(0x0008, 0x2111)
	tagSourceImageSeq       = T(0x0008, 0x2112)
	tagDerivationImageSeq   = T(0x0008, 0x9124)
	tagDerivationCodeSeq    = T(0x0008, 0x9215)
	tagSliceThickness       = T(0x0018, 0x0050)
	tagSpacingBetween       = T(0x0018, 0x0088)
	tagDeviceSerialNumber   = T(0x0018, 0x1000)
	tagSoftwareVersions     = T(0x0018, 0x1020)
	tagContributingEquipSeq = T(0x0018, 0xA001)
	tagContributionDateTime = T(0x0018, 0xA002)
	tagContributionDesc     = T(0x0018, 0xA003)
	tagStudyInstanceUID     = T(0x0020, 0x000D)
	tagSeriesInstanceUID    = T(0x0020, 0x000E)
	tagSeriesNumber         = T(0x0020, 0x0011)
	tagInstanceNumber       = T(0x0020, 0x0013)
	tagImagePosition        = T(0x0020, 0x0032)
	tagImageOrientation     = T(0x0020, 0x0037)
	tagFrameOfReferenceUID  = T(0x0020, 0x0052)
	tagFrameContentSeq      = T(0x0020, 0x9111)
	tagPlanePositionSeq     = T(0x0020, 0x9113)
	tagPlaneOrientationSeq  = T(0x0020, 0x9116)
	tagDimensionIndexValues = T(0x0020, 0x9157)
	tagDimensionOrgUID      = T(0x0020, 0x9164)
	tagDimensionIndexPtr    = T(0x0020, 0x9165)
	tagFunctionalGroupPtr   = T(0x0020, 0x9167)
	tagDimensionOrgSeq      = T(0x0020, 0x9221)
	tagDimensionIndexSeq    = T(0x0020, 0x9222)
	tagDimensionDescLabel   = T(0x0020, 0x9421)
	tagSamplesPerPixel      = T(0x0028, 0x0002)
	tagPhotometric          = T(0x0028, 0x0004)
	tagNumberOfFrames       = T(0x0028, 0x0008)
	tagRows                 = T(0x0028, 0x0010)
	tagColumns              = T(0x0028, 0x0011)
	tagPixelSpacing         = T(0x0028, 0x0030)
	tagBitsAllocated        = T(0x0028, 0x0100)
	tagBitsStored           = T(0x0028, 0x0101)
	tagHighBit              = T(0x0028, 0x0102)
	tagPixelRepresentation  = T(0x0028, 0x0103)
	tagLossyCompression     = T(0x0028, 0x2110)
	tagPixelMeasuresSeq     = T(0x0028, 0x9110)
	tagPurposeOfRefCodeSeq  = T(0x0040, 0xA170)
	tagSegmentationType     = T(0x0062, 0x0001)
	tagSegmentSeq           = T(0x0062, 0x0002)
	tagSegCategoryCodeSeq   = T(0x0062, 0x0003)
	tagSegmentNumber        = T(0x0062, 0x0004)
	tagSegmentLabel         = T(0x0062, 0x0005)
	tagSegmentDescription   = T(0x0062, 0x0006)
	tagSegmentAlgType       = T(0x0062, 0x0008)
	tagSegmentAlgName       = T(0x0062, 0x0009)
	tagSegmentIdentSeq      = T(0x0062, 0x000A)
	tagReferencedSegNumber  = T(0x0062, 0x000B)
	tagRecommendedCIELab    = T(0x0062, 0x000D)
	tagSegTypeCodeSeq       = T(0x0062, 0x000F)
	tagSegmentsOverlap      = T(0x0062, 0x0013)
	tagContentLabel         = T(0x0070, 0x0080)
	tagContentDescription   = T(0x0070, 0x0081)
	tagContentCreatorName   = T(0x0070, 0x0084)
	tagSharedFGSeq          = T(0x5200, 0x9229)
	tagPerFrameFGSeq        = T(0x5200, 0x9230)
	tagPixelData            = T(0x7FE0, 0x0010)
)

// CopiedTags are the source's attributes a SEG copies (tag -> VR): the
// Patient, General Study, Patient Study and Frame of Reference modules and
// the character set they are written in. These are the only patient data
// modelhub writes anywhere.
var CopiedTags = map[uint32]string{
	0x00080005: "CS", // SpecificCharacterSet
	0x00100010: "PN", // PatientName
	0x00100020: "LO", // PatientID
	0x00100021: "LO", // IssuerOfPatientID
	0x00100030: "DA", // PatientBirthDate
	0x00100040: "CS", // PatientSex
	0x00101010: "AS", // PatientAge
	0x00101020: "DS", // PatientSize
	0x00101030: "DS", // PatientWeight
	0x0020000D: "UI", // StudyInstanceUID
	0x00080020: "DA", // StudyDate
	0x00080030: "TM", // StudyTime
	0x00080090: "PN", // ReferringPhysicianName
	0x00200010: "SH", // StudyID
	0x00080050: "SH", // AccessionNumber
	0x00081030: "LO", // StudyDescription
	0x00200052: "UI", // FrameOfReferenceUID
	0x00201040: "LO", // PositionReferenceIndicator
}

// type2 are copied attributes a SEG must carry, empty when the source has none.
var type2 = []Tag{T(0x0010, 0x0010), T(0x0010, 0x0020), T(0x0010, 0x0030), T(0x0010, 0x0040),
	T(0x0008, 0x0020), T(0x0008, 0x0030), T(0x0008, 0x0090), T(0x0020, 0x0010), T(0x0008, 0x0050), T(0x0020, 0x1040)}

// Slice is one source image, in the order of the mask's slices.
type Slice struct {
	SOPClassUID, SOPInstanceUID string
	Position                    [3]float64
}

// Source is the series a mask was computed on.
type Source struct {
	StudyInstanceUID, SeriesInstanceUID string
	Rows, Columns                       int
	Orientation                         [6]float64
	PixelSpacing                        [2]float64 // between rows, between columns
	SliceThickness                      float64
	Slices                              []Slice
	// Copied are the source's patient, study and frame of reference
	// attributes (CopiedTags), as read from its first image.
	Copied Dataset
}

// SourceFromSeries reads what a SEG needs of a series modelhub grouped
// (its images in slice order, as the volume's k axis): geometry and UIDs
// from the headers already read, and the copied modules from the first
// image (the one read of patient data in modelhub).
func SourceFromSeries(s *dicom.Series) (*Source, error) {
	if len(s.Files) == 0 {
		return nil, errors.New("the series has no images")
	}
	h0 := &s.Files[0].Header
	if !h0.HasOrientation || !h0.HasPosition {
		return nil, errors.New("the series has no ImagePositionPatient/ImageOrientationPatient: a SEG needs the source's geometry")
	}
	if h0.NumberOfFrames > 1 {
		return nil, errors.New("the source is a multi-frame image: a SEG of it is not supported")
	}
	_, raw, err := dicom.ReadStrings(s.Files[0].Path, CopiedTags)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Files[0].Path, err)
	}
	src := &Source{StudyInstanceUID: s.StudyInstanceUID, SeriesInstanceUID: s.SeriesInstanceUID,
		Rows: h0.Rows, Columns: h0.Columns, Orientation: h0.ImageOrientationPatient, PixelSpacing: h0.PixelSpacing,
		SliceThickness: h0.SliceThickness}
	if !h0.HasPixelSpacing {
		src.PixelSpacing = [2]float64{1, 1}
	}
	for t, v := range raw {
		src.Copied = append(src.Copied, Element{Tag: Tag(t), VR: CopiedTags[t], Value: v})
	}
	for i := range s.Files {
		h := &s.Files[i].Header
		if h.SOPInstanceUID == "" || h.SOPClassUID == "" {
			return nil, fmt.Errorf("%s has no SOPInstanceUID or SOPClassUID to reference", s.Files[i].Path)
		}
		src.Slices = append(src.Slices, Slice{SOPClassUID: h.SOPClassUID, SOPInstanceUID: h.SOPInstanceUID, Position: h.ImagePositionPatient})
	}
	return src, nil
}

// Segment describes one label value of the mask.
type Segment struct {
	Value    int // the mask's value, 1-255
	Label    string
	Category Code
	Type     Code
}

// Generic codes for a label nothing names (as MHub and highdicom use).
var (
	GenericCategory = Code{"85756007", "SCT", "Tissue"}
	GenericType     = Code{"91723000", "SCT", "Anatomical structure"}
)

// Options describe the SEG's series and who made it.
type Options struct {
	SeriesDescription string // e.g. "modelhub maskmodel@1a2b3c4 mask"
	SeriesNumber      int    // default 9901
	Algorithm         string // the model's name
	Version           string // modelhub's version
	Now               time.Time
}

// Info says what Write wrote.
type Info struct {
	SOPInstanceUID, SeriesInstanceUID string
	Frames                            int
	Segments                          []int // segment numbers with at least one frame
	Empty                             bool  // the mask has no labelled voxel
}

// Mask is a label volume in the source's geometry: Data[k][j][i] (k the
// slice in Source.Slices order, j the row, i the column), one byte a voxel.
type Mask struct {
	Data []byte
}

// frame is one frame of a SEG: segment number seg (1-based), the label value
// it marks (-1 for the one empty frame of an empty result) and its source
// slice k.
type frame struct{ seg, value, k int }

// Write writes a BINARY Segmentation of mask over src to w: one segment per
// label value found in the mask (named by segs when it names it, generic
// otherwise), one frame per segment and source slice that holds any of its
// voxels, each frame with the source slice's position and orientation and a
// reference to its SOP instance.
func Write(w io.Writer, src *Source, mask Mask, segs []Segment, o Options) (Info, error) {
	var info Info
	if err := checkInputs(src, mask); err != nil {
		return info, err
	}
	segments, frames, empty := planFrames(src, mask, segs)
	pixels, err := packFrames(src, mask, frames)
	if err != nil {
		return info, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	sopUID, seriesUID := NewUID(), NewUID()
	info.SOPInstanceUID, info.SeriesInstanceUID, info.Frames, info.Empty = sopUID, seriesUID, len(frames), empty
	if !empty {
		for i := range segments {
			info.Segments = append(info.Segments, i+1)
		}
	}
	algorithm := clip(o.Algorithm, 64)
	if algorithm == "" {
		algorithm = "modelhub model"
	}
	version := clip(o.Version, 64)
	if version == "" {
		version = "unknown"
	}
	d := headerModules(src, o, now, sopUID, seriesUID, algorithm, version, len(frames))
	d = append(d, copiedModules(src)...)
	d = append(d, segmentSequence(segments, algorithm))
	d = append(d, referencedSeries(src))
	d = append(d, functionalGroups(src, frames)...)
	if err := WritePart10(w, SegmentationStorage, sopUID, version, d, pixels); err != nil {
		return info, err
	}
	return info, nil
}

// checkInputs refuses a source without pixels or a frame of reference, and a
// mask whose size is not the source's.
func checkInputs(src *Source, mask Mask) error {
	nx, ny, nz := src.Columns, src.Rows, len(src.Slices)
	plane := nx * ny
	if plane == 0 || nz == 0 {
		return errors.New("the source has no pixels")
	}
	if len(mask.Data) != plane*nz {
		return fmt.Errorf("the mask has %d voxels, the source %dx%dx%d", len(mask.Data), nx, ny, nz)
	}
	if _, ok := src.Copied.Get(tagFrameOfReferenceUID); !ok {
		return errors.New("the source images have no FrameOfReferenceUID: a SEG cannot say which space it is in")
	}
	return nil
}

// planFrames lists the segments (one per label value present, in value
// order) and their frames (only slices that hold the label). A mask with no
// label gives one empty frame of the first segment named (or label 1), so
// the result still reaches the PACS and says so; empty is then true.
func planFrames(src *Source, mask Mask, segs []Segment) (segments []Segment, frames []frame, empty bool) {
	plane, nz := src.Columns*src.Rows, len(src.Slices)
	present := make([][256]bool, nz)
	var any [256]bool
	for k := 0; k < nz; k++ {
		p := &present[k]
		for _, v := range mask.Data[k*plane : (k+1)*plane] {
			p[v] = true
		}
		for v := 1; v < 256; v++ {
			if p[v] {
				any[v] = true
			}
		}
	}
	named := map[int]Segment{}
	for _, s := range segs {
		named[s.Value] = s
	}
	for v := 1; v < 256; v++ {
		if !any[v] {
			continue
		}
		segments = append(segments, segmentFor(v, named))
		n := len(segments)
		for k := 0; k < nz; k++ {
			if present[k][v] {
				frames = append(frames, frame{n, v, k})
			}
		}
	}
	if len(frames) > 0 {
		return segments, frames, false
	}
	v := 1
	if len(segs) > 0 {
		vs := make([]int, 0, len(segs))
		for _, s := range segs {
			vs = append(vs, s.Value)
		}
		sort.Ints(vs)
		v = vs[0]
	}
	return []Segment{segmentFor(v, named)}, []frame{{1, -1, 0}}, true
}

// packFrames packs the frames' bits one after another: bit i of a frame in
// bit i%8 of byte i/8 (PS3.5 8.1.1), no padding between frames.
func packFrames(src *Source, mask Mask, frames []frame) ([]byte, error) {
	nx, ny := src.Columns, src.Rows
	plane := nx * ny
	bits := int64(len(frames)) * int64(plane)
	if (bits+7)/8 >= math.MaxUint32-1 {
		return nil, fmt.Errorf("%d frames of %dx%d are too many for one SEG", len(frames), nx, ny)
	}
	pixels := make([]byte, (bits+7)/8)
	for fi, f := range frames {
		if f.value < 0 {
			continue
		}
		sl := mask.Data[f.k*plane : (f.k+1)*plane]
		base := int64(fi) * int64(plane)
		v := byte(f.value)
		if base%8 == 0 {
			packAligned(pixels[base/8:], sl, v)
			continue
		}
		for i, x := range sl {
			if x == v {
				bit := base + int64(i)
				pixels[bit/8] |= 1 << (bit % 8)
			}
		}
	}
	return pixels, nil
}

// packAligned sets bit i of out for every sl[i] == v, out starting on a
// byte boundary (the fast path: eight voxels a byte).
func packAligned(out, sl []byte, v byte) {
	i := 0
	for ; i+8 <= len(sl); i += 8 {
		var b byte
		s := sl[i : i+8 : i+8]
		if s[0] == v {
			b |= 1
		}
		if s[1] == v {
			b |= 2
		}
		if s[2] == v {
			b |= 4
		}
		if s[3] == v {
			b |= 8
		}
		if s[4] == v {
			b |= 16
		}
		if s[5] == v {
			b |= 32
		}
		if s[6] == v {
			b |= 64
		}
		if s[7] == v {
			b |= 128
		}
		out[i/8] = b
	}
	for ; i < len(sl); i++ {
		if sl[i] == v {
			out[i/8] |= 1 << (i % 8)
		}
	}
}

// headerModules are the SEG's own modules: SOP common, general series and
// equipment (modelhub as contributing equipment), multi-frame dimensions,
// image pixel and segmentation image.
func headerModules(src *Source, o Options, now time.Time, sopUID, seriesUID, algorithm, version string, nframes int) Dataset {
	date, tod := now.Format("20060102"), now.Format("150405")
	seriesNumber := o.SeriesNumber
	if seriesNumber == 0 {
		seriesNumber = 9901
	}
	return Dataset{
		Str(tagImageType, "CS", "DERIVED", "PRIMARY"),
		Str(tagInstanceCreationDate, "DA", date), Str(tagInstanceCreationTime, "TM", tod),
		Str(tagSOPClassUID, "UI", SegmentationStorage), Str(tagSOPInstanceUID, "UI", sopUID),
		Str(tagSeriesDate, "DA", date), Str(tagSeriesTime, "TM", tod),
		Str(tagContentDate, "DA", date), Str(tagContentTime, "TM", tod),
		Str(tagModality, "CS", "SEG"),
		Str(tagManufacturer, "LO", "modelhub"),
		Str(tagSeriesDescription, "LO", clip(o.SeriesDescription, 64)),
		Str(tagManufacturerModel, "LO", "modelhub"),
		Str(tagDerivationDesc, "ST", clip("segmented by "+algorithm+" through modelhub "+version, 1024)),
		Str(tagDeviceSerialNumber, "LO", "modelhub"),
		Str(tagSoftwareVersions, "LO", version),
		Seq(tagContributingEquipSeq, Dataset{
			Str(tagManufacturer, "LO", "modelhub"),
			Str(tagManufacturerModel, "LO", "modelhub"),
			Str(tagSoftwareVersions, "LO", version),
			Str(tagContributionDateTime, "DT", now.Format("20060102150405")),
			Str(tagContributionDesc, "ST", clip("DICOM SEG written by modelhub "+version+" from the output of "+algorithm, 1024)),
			Seq(tagPurposeOfRefCodeSeq, Code{"109102", "DCM", "Processing Equipment"}.Item()),
		}),
		Str(tagSeriesInstanceUID, "UI", seriesUID),
		IS(tagSeriesNumber, seriesNumber),
		IS(tagInstanceNumber, 1),
		Seq(tagDimensionOrgSeq, Dataset{Str(tagDimensionOrgUID, "UI", seriesUID+".1")}),
		Seq(tagDimensionIndexSeq,
			Dataset{Str(tagDimensionOrgUID, "UI", seriesUID+".1"), AT(tagDimensionIndexPtr, tagReferencedSegNumber),
				AT(tagFunctionalGroupPtr, tagSegmentIdentSeq), Str(tagDimensionDescLabel, "LO", "ReferencedSegmentNumber")},
			Dataset{Str(tagDimensionOrgUID, "UI", seriesUID+".1"), AT(tagDimensionIndexPtr, tagImagePosition),
				AT(tagFunctionalGroupPtr, tagPlanePositionSeq), Str(tagDimensionDescLabel, "LO", "ImagePositionPatient")}),
		US(tagSamplesPerPixel, 1),
		Str(tagPhotometric, "CS", "MONOCHROME2"),
		IS(tagNumberOfFrames, nframes),
		US(tagRows, src.Rows), US(tagColumns, src.Columns),
		US(tagBitsAllocated, 1), US(tagBitsStored, 1), US(tagHighBit, 0), US(tagPixelRepresentation, 0),
		Str(tagLossyCompression, "CS", "00"),
		Str(tagSegmentationType, "CS", "BINARY"),
		Str(tagSegmentsOverlap, "CS", "NO"),
		Str(tagContentLabel, "CS", "SEGMENTATION"),
		Str(tagContentDescription, "LO", clip(algorithm+" segmentation", 64)),
		{Tag: tagContentCreatorName, VR: "PN"},
	}
}

// copiedModules are the patient, study and frame-of-reference elements
// copied from the source (the SEG belongs to the same study), the type 2
// ones it lacks present and empty, and a character set.
func copiedModules(src *Source) Dataset {
	var d Dataset
	have := map[Tag]bool{}
	for _, e := range src.Copied {
		if e.Tag == tagStudyInstanceUID {
			continue // from the series, below
		}
		d = append(d, e)
		have[e.Tag] = true
	}
	d = append(d, Str(tagStudyInstanceUID, "UI", src.StudyInstanceUID))
	for _, t := range type2 {
		if !have[t] {
			d = append(d, Element{Tag: t, VR: CopiedTags[uint32(t)]})
		}
	}
	if !have[tagSpecificCharacterSet] {
		d = append(d, Str(tagSpecificCharacterSet, "CS", "ISO_IR 100"))
	}
	return d
}

// segmentSequence describes each segment: its number, label, codes,
// algorithm and display colour.
func segmentSequence(segments []Segment, algorithm string) Element {
	var items []Dataset
	for i, s := range segments {
		items = append(items, Dataset{
			Seq(tagSegCategoryCodeSeq, s.Category.Item()),
			US(tagSegmentNumber, i+1),
			Str(tagSegmentLabel, "LO", clip(s.Label, 64)),
			Str(tagSegmentDescription, "ST", clip(fmt.Sprintf("label value %d of %s", s.Value, algorithm), 1024)),
			Str(tagSegmentAlgType, "CS", "AUTOMATIC"),
			Str(tagSegmentAlgName, "LO", algorithm),
			US(tagRecommendedCIELab, cieLab(i)...),
			Seq(tagSegTypeCodeSeq, s.Type.Item()),
		})
	}
	return Seq(tagSegmentSeq, items...)
}

// referencedSeries references the source series and every image in it.
func referencedSeries(src *Source) Element {
	var refs []Dataset
	for _, s := range src.Slices {
		refs = append(refs, Dataset{Str(tagReferencedSOPClass, "UI", s.SOPClassUID), Str(tagReferencedSOPInst, "UI", s.SOPInstanceUID)})
	}
	return Seq(tagReferencedSeriesSeq, Dataset{Seq(tagReferencedInstSeq, refs...), Str(tagSeriesInstanceUID, "UI", src.SeriesInstanceUID)})
}

// functionalGroups: the shared pixel measures (the source's SliceThickness,
// else the spacing of its slices, else 1 mm, and the spacing between its
// slices) and per frame its source image, dimension index, position and
// orientation (the source slice's own) and segment.
func functionalGroups(src *Source, frames []frame) Dataset {
	measures := Dataset{DS(tagPixelSpacing, src.PixelSpacing[0], src.PixelSpacing[1])}
	thick := src.SliceThickness
	if len(src.Slices) > 1 {
		gap := spacing(src)
		measures = append(measures, DS(tagSpacingBetween, gap))
		if thick <= 0 {
			thick = gap
		}
	}
	if thick <= 0 {
		thick = 1
	}
	measures = append(measures, DS(tagSliceThickness, thick))
	orient := Dataset{DS(tagImageOrientation, src.Orientation[:]...)}
	perFrame := make([]Dataset, len(frames))
	for fi, f := range frames {
		s := src.Slices[f.k]
		perFrame[fi] = Dataset{
			Seq(tagDerivationImageSeq, Dataset{
				Seq(tagSourceImageSeq, Dataset{
					Str(tagReferencedSOPClass, "UI", s.SOPClassUID), Str(tagReferencedSOPInst, "UI", s.SOPInstanceUID),
					Seq(tagPurposeOfRefCodeSeq, Code{"121322", "DCM", "Source image for image processing operation"}.Item()),
				}),
				Seq(tagDerivationCodeSeq, Code{"113076", "DCM", "Segmentation"}.Item()),
			}),
			Seq(tagFrameContentSeq, Dataset{UL(tagDimensionIndexValues, f.seg, f.k+1)}),
			Seq(tagPlanePositionSeq, Dataset{DS(tagImagePosition, s.Position[:]...)}),
			Seq(tagPlaneOrientationSeq, orient),
			Seq(tagSegmentIdentSeq, Dataset{US(tagReferencedSegNumber, f.seg)}),
		}
	}
	return Dataset{
		Seq(tagSharedFGSeq, Dataset{Seq(tagPixelMeasuresSeq, measures)}),
		Seq(tagPerFrameFGSeq, perFrame...),
	}
}

func segmentFor(v int, named map[int]Segment) Segment {
	s, ok := named[v]
	if !ok {
		s = Segment{Value: v}
	}
	if strings.TrimSpace(s.Label) == "" {
		s.Label = fmt.Sprintf("label %d", v)
	}
	if s.Category.Value == "" {
		s.Category = GenericCategory
	}
	if s.Type.Value == "" {
		s.Type = GenericType
	}
	return s
}

// spacing is the distance between the first two slices' positions.
func spacing(src *Source) float64 {
	a, b := src.Slices[0].Position, src.Slices[1].Position
	return math.Sqrt((b[0]-a[0])*(b[0]-a[0]) + (b[1]-a[1])*(b[1]-a[1]) + (b[2]-a[2])*(b[2]-a[2]))
}

// cieLab is a distinct colour per segment, in DICOM's scaled CIELab.
func cieLab(i int) []int {
	// red, green, blue, yellow, magenta, cyan, orange, purple
	pal := [][3]int{{53, 80, 67}, {88, -86, 83}, {32, 79, -108}, {97, -22, 94}, {60, 98, -61}, {91, -48, -14}, {75, 24, 79}, {30, 59, -36}}
	c := pal[i%len(pal)]
	return []int{c[0] * 65535 / 100, (c[1] + 128) * 65535 / 255, (c[2] + 128) * 65535 / 255}
}

// NewUID is a new UID under 2.25 (a random UUID as a decimal number).
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}
