package dicom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// CompressedHint names a transfer syntax modelhub does not decode and the dcmtk
// command that decompresses a folder of such files ("" when modelhub decodes it).
func CompressedHint(ts string) string {
	name, cmd := "", ""
	switch ts {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLE, ExplicitVRBigEndian,
		JPEGLosslessP14, JPEGLosslessSV1:
		return ""
	case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81":
		name, cmd = "JPEG-LS", "dcmdjpls"
	case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91":
		name, cmd = "JPEG 2000", "gdcmconv --raw" // dcmtk has no free JPEG 2000 codec
	case "1.2.840.10008.1.2.5":
		name, cmd = "RLE Lossless", "dcmdrle"
	case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51":
		name, cmd = "lossy JPEG", "dcmdjpeg"
	default:
		name, cmd = "transfer syntax", "gdcmconv --raw"
	}
	return fmt.Sprintf("%s (%s) is not decoded by modelhub; decompress the folder first, e.g. `%s IN.dcm OUT.dcm` for each file", name, ts, cmd)
}

// ReadPixels reads the (single) frame of the file into dst, which must hold
// Rows*Columns*SamplesPerPixel samples of BitsAllocated/8 bytes each, little
// endian, samples interleaved (planar data is interleaved here). Stored values
// are normalised: bits outside BitsStored are cleared, signed values are
// sign-extended to the full width.
func (rd *Reader) ReadPixels(dst []byte) error { return rd.ReadPixelsWith(dst, nil) }

// Scratch holds buffers ReadPixelsWith reuses from one file to the next.
type Scratch struct {
	frame   []byte
	samples []uint16
}

// ReadPixelsWith is ReadPixels reusing s's buffers (nil: none) for compressed
// frames.
func (rd *Reader) ReadPixelsWith(dst []byte, sc *Scratch) error {
	if sc == nil {
		sc = &Scratch{}
	}
	h := &rd.h
	if err := h.checkPixelFormat(); err != nil {
		return err
	}
	if int64(len(dst)) != h.FrameBytes() {
		return fmt.Errorf("pixel buffer holds %d bytes, the frame %d", len(dst), h.FrameBytes())
	}
	if !h.HasPixelData {
		return errors.New("the file has no pixel data")
	}
	switch {
	case !h.Compressed():
		if h.PixelDataLength < h.FrameBytes() {
			return fmt.Errorf("pixel data holds %d bytes, %dx%d x%d samples x %d bits need %d",
				h.PixelDataLength, h.Columns, h.Rows, h.SamplesPerPixel, h.BitsAllocated, h.FrameBytes())
		}
		if _, err := io.ReadFull(rd.r, dst); err != nil {
			return fmt.Errorf("truncated pixel data: %w", err)
		}
		if rd.bo == binary.BigEndian && h.BitsAllocated == 16 {
			for i := 0; i+1 < len(dst); i += 2 {
				dst[i], dst[i+1] = dst[i+1], dst[i]
			}
		}
		if h.SamplesPerPixel > 1 && h.PlanarConfiguration == 1 {
			deplanarize(dst, h.SamplesPerPixel, h.BitsAllocated/8)
		}
	case h.TransferSyntax == JPEGLosslessP14 || h.TransferSyntax == JPEGLosslessSV1:
		frame, err := rd.encapsulatedFrame(sc.frame[:0])
		if err != nil {
			return err
		}
		sc.frame = frame
		s, prec, w, ht, nc, err := DecodeLosslessBuf(frame, sc.samples)
		if err != nil {
			return err
		}
		sc.samples = s
		if w != h.Columns || ht != h.Rows || nc != h.SamplesPerPixel {
			return fmt.Errorf("jpeg lossless frame is %dx%d with %d components; the header says %dx%d with %d",
				w, ht, nc, h.Columns, h.Rows, h.SamplesPerPixel)
		}
		if prec > h.BitsAllocated {
			return fmt.Errorf("jpeg lossless precision %d exceeds BitsAllocated %d", prec, h.BitsAllocated)
		}
		if h.BitsAllocated == 8 {
			for i, v := range s {
				dst[i] = byte(v)
			}
		} else {
			for i, v := range s {
				binary.LittleEndian.PutUint16(dst[2*i:], v)
			}
		}
	default:
		return errors.New(CompressedHint(h.TransferSyntax))
	}
	h.normalise(dst)
	return nil
}

func (h *Header) checkPixelFormat() error {
	if h.Rows <= 0 || h.Columns <= 0 {
		return errors.New("no Rows/Columns")
	}
	if h.BitsAllocated != 8 && h.BitsAllocated != 16 {
		return fmt.Errorf("BitsAllocated %d is not supported (8 or 16)", h.BitsAllocated)
	}
	if h.BitsStored <= 0 || h.BitsStored > h.BitsAllocated {
		h.BitsStored = h.BitsAllocated
	}
	if h.HighBit < h.BitsStored-1 || h.HighBit >= h.BitsAllocated {
		h.HighBit = h.BitsStored - 1
	}
	if h.SamplesPerPixel != 1 && h.SamplesPerPixel != 3 {
		return fmt.Errorf("SamplesPerPixel %d is not supported (1 or 3)", h.SamplesPerPixel)
	}
	if h.SamplesPerPixel == 3 && h.BitsAllocated != 8 {
		return errors.New("colour images must have 8 bits per sample")
	}
	if h.NumberOfFrames > 1 {
		return fmt.Errorf("multi-frame images (%d frames) are not supported", h.NumberOfFrames)
	}
	if h.FrameBytes() > 1<<30 {
		return fmt.Errorf("a %dx%d frame is too large", h.Columns, h.Rows)
	}
	return nil
}

// normalise clears bits outside BitsStored and sign-extends signed samples.
func (h *Header) normalise(dst []byte) {
	if h.BitsAllocated != 16 {
		return
	}
	if h.BitsStored == 16 {
		return
	}
	shift := uint(h.HighBit + 1 - h.BitsStored)
	mask := uint16(1)<<uint(h.BitsStored) - 1
	signBit := uint16(1) << uint(h.BitsStored-1)
	for i := 0; i+1 < len(dst); i += 2 {
		v := (binary.LittleEndian.Uint16(dst[i:]) >> shift) & mask
		if h.PixelRepresentation == 1 && v&signBit != 0 {
			v |= ^mask
		}
		binary.LittleEndian.PutUint16(dst[i:], v)
	}
}

func deplanarize(dst []byte, spp, bps int) {
	n := len(dst) / (spp * bps)
	src := append([]byte(nil), dst...)
	for s := 0; s < spp; s++ {
		for i := 0; i < n; i++ {
			copy(dst[(i*spp+s)*bps:(i*spp+s+1)*bps], src[(s*n+i)*bps:(s*n+i+1)*bps])
		}
	}
}

// encapsulatedFrame reads the items of encapsulated pixel data and returns the
// first frame: the fragments after the offset table, concatenated (one frame per
// file is all modelhub reads).
func (rd *Reader) encapsulatedFrame(frame []byte) ([]byte, error) {
	if rd.h.PixelDataLength != -1 {
		return nil, errors.New("compressed pixel data must have undefined length")
	}
	first := true
	limit := 4 * rd.h.FrameBytes() // a compressed frame larger than this is hostile
	if limit < 1<<20 {
		limit = 1 << 20
	}
	for {
		t, _, n, err := rd.itemHeader()
		if err != nil {
			return nil, err
		}
		if t == tagSeqDelim {
			break
		}
		if t != tagItem || n == undefinedLength {
			return nil, fmt.Errorf("malformed encapsulated pixel data (%s)", t)
		}
		if int64(len(frame))+int64(n) > limit {
			return nil, errors.New("compressed frame is larger than the image it holds")
		}
		if first {
			first = false
			if err := rd.skip(int64(n)); err != nil {
				return nil, err
			}
			continue
		}
		start := len(frame)
		frame = slices.Grow(frame, int(n))[:start+int(n)]
		if _, err := io.ReadFull(rd.r, frame[start:]); err != nil {
			return nil, fmt.Errorf("truncated pixel data: %w", err)
		}
	}
	if len(frame) == 0 {
		return nil, errors.New("encapsulated pixel data holds no fragment")
	}
	return frame, nil
}
