package fetch

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/modelhub-ai/modelhub/internal/humanize"
)

// ErrNoSpace: the disk has less free space than a file still needs. A
// SpaceError matches it.
var ErrNoSpace = errors.New("not enough disk space")

// SpaceError is a download refused before it started writing because the
// file system of Dir has Free bytes available and the file needs Need more.
type SpaceError struct {
	URL  string
	File string // the file's path
	Dir  string // the folder whose file system is full
	Need int64
	Free int64
	// Others are the bytes reserved by files downloading at the same time.
	Others int64
}

func (e *SpaceError) Error() string {
	others := ""
	if e.Others > 0 {
		others = fmt.Sprintf(" (%s of it taken by the files downloading alongside)", humanize.Bytes(e.Others))
	}
	return fmt.Sprintf("%s: %s needs %s more (%s), but %s has %s free%s; free some space, or download to another disk with --home, and try again",
		ErrNoSpace, filepath.Base(e.File), humanize.Bytes(e.Need), e.URL, e.Dir, humanize.Bytes(e.Free), others)
}

func (e *SpaceError) Is(target error) bool { return target == ErrNoSpace }

func (d *Downloader) freeSpace(dir string) (int64, error) {
	if d.FreeSpace != nil {
		return d.FreeSpace(dir)
	}
	return diskFree(dir)
}

// reserve makes sure the file system holds need more bytes for this file,
// beyond what the other files downloading still need, and reserves them;
// the reservation shrinks as bytes are written (wrote) and ends with the
// download (release). When the free space cannot be read, the download
// goes ahead (a full disk then fails the write).
func (s *state) reserve(need int64) error {
	s.release()
	if need <= 0 {
		return nil
	}
	dir := s.f.Root
	if dir == "" {
		dir = filepath.Dir(s.f.Dest)
	}
	d := s.d
	d.spaceMu.Lock()
	defer d.spaceMu.Unlock()
	free, err := d.freeSpace(dir)
	if err != nil {
		return nil
	}
	if need > free-d.reserved {
		return &SpaceError{URL: s.f.URL, File: s.f.Dest, Dir: dir, Need: need, Free: free, Others: d.reserved}
	}
	s.reserved = need
	d.reserved += need
	return nil
}

// wrote shrinks the reservation by n written bytes.
func (s *state) wrote(n int64) {
	if s.reserved <= 0 {
		return
	}
	n = min(n, s.reserved)
	s.d.spaceMu.Lock()
	s.reserved -= n
	s.d.reserved -= n
	s.d.spaceMu.Unlock()
}

// release ends the reservation.
func (s *state) release() {
	s.wrote(s.reserved)
}
