package bundle

import (
	"hash"
	"io"
)

// copyHashed copies src to dst like io.Copy and feeds the same bytes to h
// on another goroutine, so hashing overlaps reading and writing instead of
// adding to them. It holds at most hashBufs buffers of copyBuf bytes.
// A write error comes back as it is; a read error too, io.EOF excepted.
func copyHashed(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	const hashBufs = 3
	free := make(chan []byte, hashBufs)
	for range hashBufs {
		free <- make([]byte, copyBuf)
	}
	work := make(chan []byte, hashBufs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range work {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	for {
		b := <-free
		m, rerr := src.Read(b)
		if m > 0 {
			if _, werr := dst.Write(b[:m]); werr != nil {
				err = werr
				break
			}
			n += int64(m)
			work <- b[:m]
		} else {
			free <- b
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(work)
	<-done
	return n, err
}
