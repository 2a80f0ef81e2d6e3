package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/ctxio"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/safepath"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// Images is what bundles need of the Docker Engine; *dockerrun.Client
// implements it.
type Images interface {
	ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error)
	ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error)
	ImageLoad(ctx context.Context, r io.Reader) ([]string, error)
	ImageTag(ctx context.Context, source, target string) error
	ImageRemove(ctx context.Context, ref string) error
}

// Progress is the state of a save or a load.
type Progress struct {
	// Phase is what happens: "writing", "compressing", "reading".
	Phase string
	// Done and Total are bytes; Total may be an estimate (images' sizes
	// before they are exported), Done can pass it.
	Done, Total int64
}

// SaveOptions tune Save.
type SaveOptions struct {
	// Store holds the models; every one must be downloaded completely.
	Store  *store.Store
	Models []string
	// Output is the bundle file; it appears only when complete (written to
	// Output.part and renamed).
	Output      string
	Compression Compression
	// Force overwrites an existing Output.
	Force    bool
	Docker   Images
	Modelhub string
	Now      func() time.Time
	// LockTimeout bounds the wait for another process using a model.
	LockTimeout time.Duration
	Note        func(string)
	Progress    func(Progress)

	// create opens an output file (tests simulate a full disk).
	create func(path string) (outFile, error)
}

type outFile interface {
	io.Writer
	io.WriterAt
	Sync() error
	Close() error
}

func (o *SaveOptions) note(format string, args ...any) {
	if o.Note != nil {
		o.Note(fmt.Sprintf(format, args...))
	}
}

// copyBuf is the size of the copy buffers: big enough for the disk, small
// enough that nothing large is ever held in memory.
const copyBuf = 1 << 20

// Save writes the models and their images into one bundle file and returns
// its manifest. On any failure nothing is left at Output (an existing file
// there is untouched) and no .part file remains.
func Save(ctx context.Context, o SaveOptions) (*Manifest, error) {
	if err := o.prepare(); err != nil {
		return nil, err
	}
	man := &Manifest{Format: Format, Version: FormatVersion, Created: o.Now().UTC().Truncate(time.Second), Modelhub: o.Modelhub,
		Models: []Model{}, Images: []Image{}, Entries: []Entry{}}
	sources := map[string]string{} // entry path -> file on disk
	// Hold every model's lock while reading it, so no pull swaps it under us.
	locks, err := addModels(ctx, &o, man, sources)
	defer func() {
		for _, l := range locks {
			l.Unlock()
		}
	}()
	if err != nil {
		return nil, err
	}
	refs, err := addImages(ctx, &o, man)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, e := range man.Entries {
		total += e.Size
	}
	for _, im := range man.Images {
		total += im.Size
	}
	if err := writeOutput(ctx, &o, man, sources, refs, total); err != nil {
		return nil, err
	}
	return man, nil
}

// prepare fills o's defaults and refuses what cannot be saved.
func (o *SaveOptions) prepare() error {
	if o.create == nil {
		o.create = func(p string) (outFile, error) { return safepath.CreateNew(p, 0o644) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Compression == "" {
		o.Compression = None
	}
	if len(o.Models) == 0 {
		return errors.New("no models to save")
	}
	if o.Docker == nil {
		return errors.New("saving a bundle needs the Docker engine")
	}
	if fi, err := os.Stat(o.Output); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a folder; give a file name with -o", o.Output)
		}
		if !o.Force {
			return fmt.Errorf("%s: %w (use --force to overwrite it)", o.Output, ErrExists)
		}
	}
	return nil
}

// addModels resolves and locks each model of o (in name order, once each)
// and adds it and its entries to man. It returns the locks taken, also on
// failure: the caller releases them once the bundle is written.
func addModels(ctx context.Context, o *SaveOptions, man *Manifest, sources map[string]string) ([]*store.Lock, error) {
	names := append([]string(nil), o.Models...)
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var locks []*store.Lock
	seen := map[string]bool{}
	for _, ref := range names {
		m, err := o.Store.Resolve(ctx, ref)
		if err != nil {
			return locks, err
		}
		if m.Local {
			return locks, fmt.Errorf("%s is a local model folder; save carries downloaded models only (publish it to an index and pull it)", ref)
		}
		if seen[strings.ToLower(m.Name)] {
			continue
		}
		seen[strings.ToLower(m.Name)] = true
		lock, err := store.LockModel(ctx, o.Store.Home, m.Name, o.LockTimeout, o.Note)
		if err != nil {
			return locks, err
		}
		locks = append(locks, lock)
		md, entries, err := modelEntries(m, sources)
		if err != nil {
			return locks, err
		}
		man.Models = append(man.Models, md)
		man.Entries = append(man.Entries, entries...)
	}
	return locks, nil
}

// modelEntries describes a downloaded model and lists its entries.
func modelEntries(m *store.Model, sources map[string]string) (Model, []Entry, error) {
	sm, err := store.ReadManifest(m.Dir)
	if err != nil || !sm.Complete {
		return Model{}, nil, fmt.Errorf("%s is not downloaded completely; run `modelhub pull %s` first", m.Name, m.Name)
	}
	md := Model{Name: m.Name, Entry: sm.Entry, Commit: sm.Commit, DockerID: sm.DockerID}
	if md.DockerID == "" {
		// As run does: the manifest's image, else init.json's.
		if in, err := config.LoadInit(m.Dir); err == nil {
			md.DockerID = in.DockerID
		}
	}
	entries, err := walkModel(m.Name, m.Dir, sources)
	if err != nil {
		return Model{}, nil, err
	}
	for _, e := range entries {
		if e.Type == TypeFile {
			md.Files++
			md.Size += e.Size
		}
	}
	return md, entries, nil
}

// addImages adds the models' images (each once) to man, and the entry of
// images.tar when there are any; it returns their references.
func addImages(ctx context.Context, o *SaveOptions, man *Manifest) ([]string, error) {
	var refs []string
	for _, md := range man.Models {
		if md.DockerID == "" || contains(refs, md.DockerID) {
			continue
		}
		im, err := o.Docker.ImageInspect(ctx, md.DockerID)
		if err != nil {
			return nil, fmt.Errorf("image %s of %s: %w", md.DockerID, md.Name, err)
		}
		refs = append(refs, md.DockerID)
		man.Images = append(man.Images, Image{Ref: md.DockerID, ID: im.ID, Digests: im.RepoDigests, Size: im.Size})
	}
	if len(refs) > 0 {
		man.Entries = append(man.Entries, Entry{Path: ImagesName, Type: TypeFile, Mode: 0o644})
	}
	return refs, nil
}

// writeOutput writes the bundle to o.Output.part (compressed through a
// .part.tar when asked) and renames it into place: interrupted or failed,
// no bundle is left.
func writeOutput(ctx context.Context, o *SaveOptions, man *Manifest, sources map[string]string, refs []string, total int64) error {
	part := o.Output + ".part"
	tarPath := part
	if o.Compression != None {
		tarPath = o.Output + ".part.tar"
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(part)
			os.Remove(tarPath)
		}
	}()
	if err := writeBundle(ctx, o, tarPath, man, sources, refs, total); err != nil {
		return err
	}
	if o.Compression != None {
		if err := compressFile(ctx, o, tarPath, part); err != nil {
			return err
		}
		os.Remove(tarPath)
	}
	// Interrupted at the last moment: still no bundle.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(part, o.Output); err != nil {
		return fmt.Errorf("save %s: %w", o.Output, err)
	}
	ok = true
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// walkModel lists the folders and regular files of a model folder as
// entries, recording where each file is in sources. A link or a special
// file is an error: bundles carry only plain files.
func walkModel(name, dir string, sources map[string]string) ([]Entry, error) {
	var entries []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		ep := ModelPath(name) + "/" + filepath.ToSlash(rel)
		if err := checkName(ep); err != nil {
			return fmt.Errorf("model %s: cannot bundle %q: %v", name, rel, err)
		}
		switch t := d.Type(); {
		case t.IsDir():
			entries = append(entries, Entry{Path: ep, Type: TypeDir, Mode: 0o755})
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := uint32(0o644)
			if fi.Mode().Perm()&0o111 != 0 {
				mode = 0o755
			}
			entries = append(entries, Entry{Path: ep, Type: TypeFile, Mode: mode, Size: fi.Size()})
			sources[ep] = p
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("model %s holds a symbolic link %s; bundles carry no links (replace it by the file it points to, or pull the model again)", name, filepath.ToSlash(rel))
		default:
			return fmt.Errorf("model %s holds %s, which is not a regular file or folder; bundles carry only those", name, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// counter counts the bytes written through it and reports progress at
// most every progressEvery bytes.
type counter struct {
	w        io.Writer
	n, last  int64
	phase    string
	total    int64
	progress func(Progress)
}

const progressEvery = 4 << 20

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && c.n-c.last >= progressEvery {
		c.last = c.n
		c.progress(Progress{Phase: c.phase, Done: c.n, Total: c.total})
	}
	return n, err
}

// writeBundle writes the uncompressed bundle to path in one pass. The
// manifest entry is written first with a reserved size and filled in at the
// end (its checksums are known only then); so is the header of images.tar,
// whose size is known only once the engine's export has streamed through.
func writeBundle(ctx context.Context, o *SaveOptions, path string, man *Manifest, sources map[string]string, refs []string, total int64) (err error) {
	f, err := o.create(path)
	if err != nil {
		return outErr(o.Output, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = outErr(o.Output, cerr)
		}
	}()
	reserve, err := manifestReserve(man)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, copyBuf)
	cw := &counter{w: bw, phase: "writing", total: total, progress: o.Progress}
	tw := tar.NewWriter(cw)
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o644, Size: reserve, ModTime: man.Created, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	if _, err := tw.Write(bytes.Repeat([]byte{' '}, int(reserve))); err != nil {
		return outErr(o.Output, err)
	}
	w := &tarOut{o: o, f: f, bw: bw, cw: cw, tw: tw, h: sha256.New()}
	for i := range man.Entries {
		e := &man.Entries[i]
		if e.Path == ImagesName {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.entry(ctx, man, e, sources[e.Path]); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return outErr(o.Output, err)
	}
	if len(refs) > 0 {
		if err := w.images(ctx, man, &man.Entries[len(man.Entries)-1], refs); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return outErr(o.Output, err)
	}
	if err := bw.Flush(); err != nil {
		return outErr(o.Output, err)
	}
	if err := w.manifest(man, reserve); err != nil {
		return err
	}
	// No fsync, unlike pull and load: load verifies every byte, so a bundle
	// that a crash cut short is refused, never half-installed; and the
	// sync would make saving disk-bound (see README, Performance).
	if o.Progress != nil {
		o.Progress(Progress{Phase: "writing", Done: cw.n, Total: cw.n})
	}
	return nil
}

// tarOut is the bundle being written: the file, its buffer, the byte
// counter that reports progress and the tar writer on top.
type tarOut struct {
	o  *SaveOptions
	f  outFile
	bw *bufio.Writer
	cw *counter
	tw *tar.Writer
	h  hash.Hash
}

// entry writes the folder or file e (read from src) and sets its checksum.
func (w *tarOut) entry(ctx context.Context, man *Manifest, e *Entry, src string) error {
	hdr := &tar.Header{Name: e.Path, Mode: int64(e.Mode), ModTime: man.Created, Uname: "root", Gname: "root"}
	if e.Type == TypeDir {
		hdr.Typeflag, hdr.Name = tar.TypeDir, e.Path+"/"
		if err := w.tw.WriteHeader(hdr); err != nil {
			return outErr(w.o.Output, err)
		}
		return nil
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
	if err := w.tw.WriteHeader(hdr); err != nil {
		return outErr(w.o.Output, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	w.h.Reset()
	n, err := copyHashed(w.tw, ctxio.Reader(ctx, in), w.h)
	in.Close()
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("%s grew while it was being saved; save again once nothing writes to the model", src)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return outErr(w.o.Output, err)
	}
	if n != e.Size {
		return fmt.Errorf("%s shrank while it was being saved; save again once nothing writes to the model", src)
	}
	e.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	return nil
}

// images streams the engine's export of refs as the entry img: a header
// block reserved first and written once the size is known.
func (w *tarOut) images(ctx context.Context, man *Manifest, img *Entry, refs []string) error {
	if err := w.bw.Flush(); err != nil {
		return outErr(w.o.Output, err)
	}
	hdrAt := w.cw.n
	if _, err := w.cw.Write(make([]byte, 512)); err != nil {
		return outErr(w.o.Output, err)
	}
	rc, err := w.o.Docker.ImageSave(ctx, refs)
	if err != nil {
		return err
	}
	w.h.Reset()
	n, err := copyHashed(w.cw, rc, w.h)
	rc.Close()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isWriteErr(err) {
			return outErr(w.o.Output, err)
		}
		return fmt.Errorf("export images %s: %w", strings.Join(refs, ", "), err)
	}
	if pad := (512 - n%512) % 512; pad > 0 {
		if _, err := w.cw.Write(make([]byte, pad)); err != nil {
			return outErr(w.o.Output, err)
		}
	}
	img.Size, img.SHA256 = n, hex.EncodeToString(w.h.Sum(nil))
	var hb bytes.Buffer
	if err := tar.NewWriter(&hb).WriteHeader(&tar.Header{Name: ImagesName, Mode: 0o644, Size: n, ModTime: man.Created, Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return outErr(w.o.Output, err)
	}
	if _, err := w.f.WriteAt(hb.Bytes()[:512], hdrAt); err != nil {
		return outErr(w.o.Output, err)
	}
	return nil
}

// manifest writes the finished manifest into the space reserved for it.
func (w *tarOut) manifest(man *Manifest, reserve int64) error {
	data, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	if int64(len(data)) > reserve {
		return fmt.Errorf("bundle manifest is larger than reserved (%d > %d bytes)", len(data), reserve)
	}
	if _, err := w.f.WriteAt(data, 512); err != nil {
		return outErr(w.o.Output, err)
	}
	return nil
}

// manifestReserve is the size reserved for the manifest entry: its JSON
// with every value still unknown at its widest, plus room to spare,
// rounded up to a tar block.
func manifestReserve(man *Manifest) (int64, error) {
	wide := *man
	wide.Entries = append([]Entry(nil), man.Entries...)
	for i := range wide.Entries {
		if wide.Entries[i].Type == TypeFile {
			wide.Entries[i].SHA256 = strings.Repeat("0", 64)
		}
		if wide.Entries[i].Path == ImagesName {
			wide.Entries[i].Size = 1 << 62
		}
	}
	data, err := json.MarshalIndent(&wide, "", "  ")
	if err != nil {
		return 0, err
	}
	n := int64(len(data)) + 1024
	return (n + 511) / 512 * 512, nil
}

func isWriteErr(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) || errors.Is(err, syscall.ENOSPC)
}

// outErr words a failed write of the bundle, naming a full disk.
func outErr(out string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("write %s: the disk is full; free some space or write the bundle elsewhere with -o (nothing was saved)", out)
	}
	return fmt.Errorf("write %s: %w (nothing was saved)", out, err)
}

// compressFile compresses the finished tar src into dst.
func compressFile(ctx context.Context, o *SaveOptions, src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := o.create(dst)
	if err != nil {
		return outErr(o.Output, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = outErr(o.Output, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, copyBuf)
	zw, err := compressor(bw, o.Compression)
	if err != nil {
		return err
	}
	cw := &counter{w: zw, phase: "compressing", total: fi.Size(), progress: o.Progress}
	if _, err := io.CopyBuffer(cw, ctxio.Reader(ctx, in), make([]byte, copyBuf)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return outErr(o.Output, err)
	}
	if err := zw.Close(); err != nil {
		return outErr(o.Output, err)
	}
	if err := bw.Flush(); err != nil {
		return outErr(o.Output, err)
	}
	return nil
}

// writebackEvery is how many written bytes of a file make startWriteback run.
const writebackEvery = 8 << 20

// writeback passes writes to w and, when w is an *os.File, starts writing
// each finished writebackEvery bytes to disk in the background.
type writeback struct {
	w       io.Writer
	off     int64
	pending int64
}

func (wb *writeback) Write(p []byte) (int, error) {
	n, err := wb.w.Write(p)
	wb.pending += int64(n)
	if wb.pending >= writebackEvery {
		if f, ok := wb.w.(*os.File); ok {
			startWriteback(f, wb.off, wb.pending)
		}
		wb.off += wb.pending
		wb.pending = 0
	}
	return n, err
}
