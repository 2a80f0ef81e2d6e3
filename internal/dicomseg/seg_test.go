package dicomseg

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// testSeries writes a small series with the planted patient data and scans it.
func testSeries(t testing.TB, dir string, rows, cols, slices int, orient [6]float64) *dicom.Series {
	t.Helper()
	s := dicomtest.Series{StudyUID: "1.2.826.9", SeriesUID: "1.2.826.9.7", Description: "Chest", SeriesNumber: 3,
		Rows: rows, Columns: cols, Slices: slices, Orientation: orient, PixelSpacing: [2]float64{0.7, 0.8}, SliceSpacing: 2.5,
		Origin: [3]float64{-10.5, 20.25, 33}}
	if _, err := s.Write(dir, "IM"); err != nil {
		t.Fatal(err)
	}
	res, err := dicom.Scan(context.Background(), []string{dir})
	if err != nil || len(res.Series) != 1 || res.Series[0].Err != nil {
		t.Fatalf("scan: %v %+v", err, res)
	}
	return res.Series[0]
}

// unpack returns frame f's bits as bytes 0/1.
func unpack(px []byte, f, plane int) []byte {
	out := make([]byte, plane)
	for i := range out {
		bit := f*plane + i
		out[i] = px[bit/8] >> (bit % 8) & 1
	}
	return out
}

func TestWrite_roundTrip(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rows, cols, nz int
		orient         [6]float64
	}{
		{"axial", 6, 8, 5, [6]float64{1, 0, 0, 0, 1, 0}},
		{"oddPlane", 3, 5, 4, [6]float64{1, 0, 0, 0, -1, 0}}, // 15 bits a frame: frames not byte aligned
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSeries(t, t.TempDir(), tc.rows, tc.cols, tc.nz, tc.orient)
			src, err := SourceFromSeries(s)
			if err != nil {
				t.Fatal(err)
			}
			plane := tc.rows * tc.cols
			mask := make([]byte, plane*tc.nz)
			for k := 0; k < tc.nz; k++ {
				for i := 0; i < plane; i++ {
					switch {
					case k == 1 && i%3 == 0:
						mask[k*plane+i] = 1
					case k >= 2 && i%2 == 1:
						mask[k*plane+i] = 3
					}
				}
			}
			var buf bytes.Buffer
			info, err := Write(&buf, src, Mask{Data: mask}, []Segment{{Value: 3, Label: "Liver", Type: Code{"10200004", "SCT", "Liver"}}},
				Options{SeriesDescription: "modelhub test@abc mask", Algorithm: "test", Version: "1.2.3", Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			// frames: segment 1 (value 1) on slice 1; segment 2 (value 3) on slices 2..nz-1
			if want := 1 + tc.nz - 2; info.Frames != want {
				t.Fatalf("frames %d, want %d", info.Frames, want)
			}
			// our header parser reads it
			rd, err := dicom.ReadHeader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			h := rd.Header()
			if h.SOPClassUID != SegmentationStorage || h.Rows != tc.rows || h.Columns != tc.cols || h.NumberOfFrames != info.Frames || h.BitsAllocated != 1 || h.Modality != "SEG" {
				t.Fatalf("header %+v", h)
			}
			if h.StudyInstanceUID != "1.2.826.9" {
				t.Fatalf("study %q", h.StudyInstanceUID)
			}
			_, ds, err := Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			px, _ := ds.Get(tagPixelData)
			pf, _ := ds.Get(tagPerFrameFGSeq)
			if len(pf.Items) != info.Frames {
				t.Fatalf("%d per-frame items", len(pf.Items))
			}
			segs, _ := ds.Get(tagSegmentSeq)
			if len(segs.Items) != 2 {
				t.Fatalf("%d segments", len(segs.Items))
			}
			if l, _ := segs.Items[1].Get(tagSegmentLabel); l.Str() != "Liver" {
				t.Fatalf("segment 2 label %q", l.Str())
			}
			if l, _ := segs.Items[0].Get(tagSegmentLabel); l.Str() != "label 1" {
				t.Fatalf("segment 1 label %q", l.Str())
			}
			values := []byte{1, 3}
			for f, item := range pf.Items {
				fc, _ := item.Get(tagFrameContentSeq)
				idx, _ := fc.Items[0].Get(tagDimensionIndexValues)
				seg := int(idx.Value[0])
				k := int(idx.Value[4]) - 1
				pp, _ := item.Get(tagPlanePositionSeq)
				pos, _ := pp.Items[0].Get(tagImagePosition)
				got, _ := pos.Floats()
				if want := s.Files[k].Header.ImagePositionPatient; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
					t.Fatalf("frame %d position %v, want %v", f, got, want)
				}
				di, _ := item.Get(tagDerivationImageSeq)
				si, _ := di.Items[0].Get(tagSourceImageSeq)
				ref, _ := si.Items[0].Get(tagReferencedSOPInst)
				if ref.Str() != s.Files[k].Header.SOPInstanceUID {
					t.Fatalf("frame %d references %q, want %q", f, ref.Str(), s.Files[k].Header.SOPInstanceUID)
				}
				bits := unpack(px.Value, f, plane)
				for i := range bits {
					want := byte(0)
					if mask[k*plane+i] == values[seg-1] {
						want = 1
					}
					if bits[i] != want {
						t.Fatalf("frame %d (segment %d, slice %d) pixel %d = %d, want %d", f, seg, k, i, bits[i], want)
					}
				}
			}
			// the patient module is copied
			for _, v := range []string{dicomtest.PatientName, dicomtest.PatientID, dicomtest.PatientBirthDate} {
				if !bytes.Contains(buf.Bytes(), []byte(v)) {
					t.Fatalf("patient value %q not copied", v)
				}
			}
			if d := os.Getenv("MODELHUB_SEG_DUMP"); d != "" {
				_ = os.WriteFile(filepath.Join(d, tc.name+".dcm"), buf.Bytes(), 0o644)
			}
		})
	}
}

func TestWrite_emptyMask(t *testing.T) {
	s := testSeries(t, t.TempDir(), 4, 4, 3, [6]float64{1, 0, 0, 0, 1, 0})
	src, err := SourceFromSeries(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	info, err := Write(&buf, src, Mask{Data: make([]byte, 48)}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Empty || info.Frames != 1 {
		t.Fatalf("info %+v", info)
	}
	_, ds, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	px, _ := ds.Get(tagPixelData)
	if !bytes.Equal(px.Value, make([]byte, 2)) {
		t.Fatalf("pixels %v", px.Value)
	}
}

func TestWrite_refusals(t *testing.T) {
	s := testSeries(t, t.TempDir(), 4, 4, 3, [6]float64{1, 0, 0, 0, 1, 0})
	src, err := SourceFromSeries(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&bytes.Buffer{}, src, Mask{Data: make([]byte, 47)}, nil, Options{}); err == nil || !strings.Contains(err.Error(), "47 voxels") {
		t.Fatalf("short mask: %v", err)
	}
	var noFoR Dataset
	for _, e := range src.Copied {
		if e.Tag != tagFrameOfReferenceUID {
			noFoR = append(noFoR, e)
		}
	}
	src.Copied = noFoR
	if _, err := Write(&bytes.Buffer{}, src, Mask{Data: make([]byte, 48)}, nil, Options{}); err == nil || !strings.Contains(err.Error(), "FrameOfReferenceUID") {
		t.Fatalf("no frame of reference: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	_ = WritePart10(&buf, SegmentationStorage, "1.2.3", "v", Dataset{Seq(tagSegmentSeq, Dataset{US(tagSegmentNumber, 1)}), Str(tagModality, "CS", "SEG")}, []byte{1, 2, 3})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, ds, err := Parse(data)
		if err != nil {
			return
		}
		// what parses re-encodes and parses to the same elements
		var out bytes.Buffer
		if err := WritePart10(&out, "1.2", "1.2.3", "v", ds, nil); err != nil {
			return
		}
		_, ds2, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded dataset does not parse: %v (meta %d elements)", err, len(meta))
		}
		if len(ds2) != len(ds.sorted()) && !hasDup(ds) {
			t.Fatalf("%d elements, then %d", len(ds), len(ds2))
		}
	})
}

func hasDup(d Dataset) bool {
	seen := map[Tag]bool{}
	for _, e := range d {
		if seen[e.Tag] {
			return true
		}
		seen[e.Tag] = true
	}
	return false
}

// Any mask round-trips: written, then read with Parse (and dicom.ReadHeader),
// every frame holds exactly its label's voxels of its slice, and every
// labelled voxel is in a frame.
func FuzzWrite(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(4), []byte{0, 1, 1, 2, 0, 0, 7, 1})
	f.Add(uint8(1), uint8(1), uint8(1), []byte{})
	f.Fuzz(func(t *testing.T, rows, cols, nz uint8, seed []byte) {
		r, c, z := int(rows%9)+1, int(cols%9)+1, int(nz%6)+1
		plane := r * c
		mask := make([]byte, plane*z)
		for i := range mask {
			if len(seed) > 0 {
				mask[i] = seed[i%len(seed)] % 4
			}
		}
		src := &Source{StudyInstanceUID: "1.2", SeriesInstanceUID: "1.2.3", Rows: r, Columns: c,
			Orientation: [6]float64{0, 1, 0, 0, 0, -1}, PixelSpacing: [2]float64{0.5, 1.5}, SliceThickness: 2,
			Copied: Dataset{Str(tagFrameOfReferenceUID, "UI", "1.2.4")}}
		for k := 0; k < z; k++ {
			src.Slices = append(src.Slices, Slice{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: "1.2.3." + string(rune('1'+k)),
				Position: [3]float64{float64(k) * 2.5, -1.25, 1e-7}})
		}
		var buf bytes.Buffer
		info, err := Write(&buf, src, Mask{Data: mask}, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dicom.ReadHeader(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("our header parser: %v", err)
		}
		_, ds, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		px, _ := ds.Get(tagPixelData)
		pf, _ := ds.Get(tagPerFrameFGSeq)
		segs, _ := ds.Get(tagSegmentSeq)
		if len(pf.Items) != info.Frames || len(px.Value) < (info.Frames*plane+7)/8 {
			t.Fatalf("%d frames, %d per-frame items, %d pixel bytes", info.Frames, len(pf.Items), len(px.Value))
		}
		// segment number -> label value, from the segment descriptions
		value := map[int]byte{}
		for _, it := range segs.Items {
			n, _ := it.Get(tagSegmentNumber)
			l, _ := it.Get(tagSegmentLabel)
			var v int
			fmt.Sscanf(l.Str(), "label %d", &v)
			value[n.U16()] = byte(v)
		}
		covered := make([]bool, len(mask))
		for f, it := range pf.Items {
			fc, _ := it.Get(tagFrameContentSeq)
			idx, _ := fc.Items[0].Get(tagDimensionIndexValues)
			seg, k := int(idx.Value[0]), int(idx.Value[4])-1
			bits := unpack(px.Value, f, plane)
			for i, b := range bits {
				want := !info.Empty && mask[k*plane+i] == value[seg]
				if (b == 1) != want {
					t.Fatalf("frame %d (segment %d, slice %d) pixel %d = %d", f, seg, k, i, b)
				}
				if b == 1 {
					covered[k*plane+i] = true
				}
			}
		}
		for i, v := range mask {
			if v != 0 && !covered[i] {
				t.Fatalf("voxel %d (label %d) in no frame", i, v)
			}
		}
	})
}
