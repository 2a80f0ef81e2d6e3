package nifti

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
)

func readRaw(p string) ([]byte, [3]float64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, [3]float64{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, [3]float64{}, err
	}
	h := make([]byte, headerSize)
	io.ReadFull(zr, h)
	var q [3]float64
	for i := range q {
		q[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(h[256+4*i:])))
	}
	return h, q, nil
}
