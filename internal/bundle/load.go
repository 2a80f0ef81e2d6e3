package bundle

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/reference"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Path is the bundle file.
	Path  string
	Store *store.Store
	// Docker loads the images (needed when the bundle holds any).
	Docker Images
	// Force replaces an installed model of another version.
	Force bool
	// InUse, when set, reports whether a container of the installed model
	// at dir runs or is starting; such a model is never replaced (checked
	// under the model's lock, which a starting model holds until its
	// container runs).
	InUse       func(ctx context.Context, name, dir string) (bool, error)
	LockTimeout time.Duration
	Note        func(string)
	Progress    func(Progress)

	// openFile creates a file in a staging folder (tests simulate a full disk).
	openFile func(root *os.Root, name string, mode os.FileMode) (io.WriteCloser, error)
}

func (o *LoadOptions) note(format string, args ...any) {
	if o.Note != nil {
		o.Note(fmt.Sprintf(format, args...))
	}
}

// Model statuses in LoadResult.
const (
	StatusInstalled = "installed" // it was not there
	StatusReplaced  = "replaced"  // another version was, --force
	StatusUnchanged = "unchanged" // the same version was there
)

// LoadedModel is what Load did with one model.
type LoadedModel struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
	Status string `json:"status"`
}

// LoadResult says what Load did.
type LoadResult struct {
	Manifest *Manifest
	Models   []LoadedModel
	// ImagesLoaded is false when every image was already present (the
	// export was then only verified).
	ImagesLoaded bool
}

// bundleFile is an open bundle: its manifest read, the tar positioned on
// the next entry.
type bundleFile struct {
	path  string
	f     *os.File
	size  int64
	read  *countingReader
	dec   io.Reader
	comp  Compression
	close func()
	tr    *tar.Reader
	man   *Manifest
	seen  map[string]bool
}

type countingReader struct {
	r        io.Reader
	n, last  int64
	total    int64
	progress func(Progress)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && c.n-c.last >= progressEvery {
		c.last = c.n
		c.progress(Progress{Phase: "reading", Done: c.n, Total: c.total})
	}
	return n, err
}

// open opens path and reads and checks its manifest.
func open(path string, progress func(Progress)) (*bundleFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a file", path)
	}
	b := &bundleFile{path: path, f: f, size: fi.Size()}
	b.read = &countingReader{r: f, total: fi.Size(), progress: progress}
	br := bufio.NewReaderSize(b.read, copyBuf)
	b.dec, b.comp, b.close, err = decompress(br)
	if err != nil {
		f.Close()
		return nil, b.errorf(err)
	}
	b.tr = tar.NewReader(b.dec)
	hdr, err := b.tr.Next()
	if err != nil && b.comp != None && !errors.Is(err, tar.ErrHeader) && !errors.Is(err, io.EOF) {
		// The decompressor failed: a damaged compressed bundle.
		b.Close()
		return nil, b.errorf(err)
	}
	if err != nil || hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg {
		b.Close()
		why := "it does not start with " + ManifestName
		if err != nil {
			why = "it is not a tar archive"
			if b.comp != None {
				why = "its " + string(b.comp) + " content is not a tar archive"
			}
		}
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotBundle, why)
	}
	if hdr.Size > maxManifestSize {
		b.Close()
		return nil, fmt.Errorf("%s: %w (its manifest is %d bytes, more than the %d allowed)", path, ErrNotBundle, hdr.Size, maxManifestSize)
	}
	data, err := io.ReadAll(b.tr)
	if err != nil {
		b.Close()
		return nil, b.errorf(err)
	}
	var man Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w (its manifest is not valid JSON: %v)", path, ErrNotBundle, err)
	}
	if err := man.check(); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.man = &man
	return b, nil
}

func (b *bundleFile) Close() {
	b.close()
	b.f.Close()
}

// errorf words a read error of the bundle: truncated, or damaged.
func (b *bundleFile) errorf(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: it is truncated (it ends after %d of its bytes); copy it again", b.path, ErrDamaged, b.read.n)
	}
	if errors.Is(err, tar.ErrHeader) {
		return fmt.Errorf("%s: %w: a tar header is invalid (after %d of its bytes); copy it again", b.path, ErrDamaged, b.read.n)
	}
	if errors.Is(err, ErrNotBundle) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrUnsafe) {
		return fmt.Errorf("%s: %w", b.path, err)
	}
	return fmt.Errorf("%s: %w: %v; copy it again", b.path, ErrDamaged, err)
}

// Read returns the manifest of the bundle at path without reading further.
func Read(path string) (*Manifest, error) {
	b, err := open(path, nil)
	if err != nil {
		return nil, err
	}
	b.Close()
	return b.man, nil
}

// next returns the next entry header, which must be want; a header that
// could write outside its folder, is a link or a device, or repeats a name,
// is refused by name.
func (b *bundleFile) next(want Entry) (*tar.Header, error) {
	hdr, err := b.tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w: it is truncated (it ends before %s); copy it again", b.path, ErrDamaged, want.Path)
	}
	if err != nil {
		return nil, b.errorf(err)
	}
	if err := checkHeader(hdr); err != nil {
		return nil, fmt.Errorf("%s: %w", b.path, err)
	}
	name := strings.TrimSuffix(hdr.Name, "/")
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if b.seen[strings.ToLower(name)] {
		return nil, fmt.Errorf("%s: %w: %q appears twice", b.path, ErrUnsafe, hdr.Name)
	}
	b.seen[strings.ToLower(name)] = true
	if name != want.Path {
		return nil, fmt.Errorf("%s: %w: entry %q is not the next one its manifest lists (%s)", b.path, ErrDamaged, hdr.Name, want.Path)
	}
	wantType := byte(tar.TypeReg)
	if want.Type == TypeDir {
		wantType = tar.TypeDir
	}
	if hdr.Typeflag != wantType || (want.Type == TypeFile && hdr.Size != want.Size) {
		return nil, fmt.Errorf("%s: %w: entry %s does not match its manifest (type or size)", b.path, ErrDamaged, want.Path)
	}
	return hdr, nil
}

// checkHeader refuses links, devices and names that leave their folder.
func checkHeader(hdr *tar.Header) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	if err := checkName(name); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrUnsafe, hdr.Name, err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
		return nil
	case tar.TypeSymlink:
		return fmt.Errorf("%w: %q is a symbolic link (to %q); bundles hold no links", ErrUnsafe, hdr.Name, hdr.Linkname)
	case tar.TypeLink:
		return fmt.Errorf("%w: %q is a hard link (to %q); bundles hold no links", ErrUnsafe, hdr.Name, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("%w: %q is a device file", ErrUnsafe, hdr.Name)
	case tar.TypeFifo:
		return fmt.Errorf("%w: %q is a named pipe", ErrUnsafe, hdr.Name)
	}
	return fmt.Errorf("%w: %q has tar type %q; bundles hold only files and folders", ErrUnsafe, hdr.Name, hdr.Typeflag)
}

// install is one model being loaded.
type install struct {
	model  Model
	in     *store.Install // nil when the same version is installed
	root   *os.Root
	status string
	// files are the files written, to be made durable before the commit.
	files []string
}

// Load verifies the bundle at o.Path while streaming it, installs its
// models (each in a staging folder renamed into place only once every
// entry of the bundle has matched its checksum) and loads its images into
// the engine. It needs no index and no network. On failure no model is
// changed.
func Load(ctx context.Context, o LoadOptions) (res *LoadResult, err error) {
	if o.openFile == nil {
		o.openFile = func(root *os.Root, name string, mode os.FileMode) (io.WriteCloser, error) {
			return root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		}
	}
	b, err := open(o.Path, o.Progress)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	man := b.man
	if len(man.Images) > 0 && o.Docker == nil {
		return nil, errors.New("loading a bundle with images needs the Docker engine")
	}
	var all []*install
	defer func() {
		if err != nil {
			for _, it := range all {
				if it.root != nil {
					it.root.Close()
				}
				if it.in != nil {
					it.in.Abort()
				}
			}
		}
	}()
	if all, err = beginInstalls(ctx, &o, man.Models); err != nil {
		return nil, err
	}
	res = &LoadResult{Manifest: man}
	var images *imageLoad
	defer func() {
		if err != nil {
			images.abort(err)
		}
	}()
	if images, err = b.extract(ctx, &o, all); err != nil {
		return nil, err
	}
	// Every byte matched: make the files durable and check each model's
	// manifest, then load the images, then put the models in place
	// (unless interrupted).
	if err := checkInstalls(o.Path, all); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if images != nil {
		if res.ImagesLoaded, err = images.finish(); err != nil {
			return nil, err
		}
	}
	if res.Models, err = commitInstalls(ctx, &o, all); err != nil {
		return nil, err
	}
	return res, nil
}

// beginInstalls locks every model (in name order, so two loads cannot
// deadlock) and checks what is installed before anything is written. It
// returns the installs begun so far, also on failure (the caller aborts them).
func beginInstalls(ctx context.Context, o *LoadOptions, ms []Model) ([]*install, error) {
	models := append([]Model(nil), ms...)
	sort.Slice(models, func(i, j int) bool { return strings.ToLower(models[i].Name) < strings.ToLower(models[j].Name) })
	var all []*install
	for _, m := range models {
		in, err := o.Store.BeginInstall(ctx, m.Name, o.LockTimeout, o.Note)
		if err != nil {
			return all, err
		}
		it := &install{model: m, in: in, status: StatusInstalled}
		all = append(all, it)
		if err := it.check(ctx, o); err != nil {
			return all, err
		}
		if it.status == StatusUnchanged {
			in.Abort()
			it.in = nil
			continue
		}
		if it.root, err = os.OpenRoot(in.Dir); err != nil {
			return all, err
		}
	}
	return all, nil
}

// check decides the install's status from what is installed: unchanged, a
// conflict (another commit, without --force), or replaced when not in use.
func (it *install) check(ctx context.Context, o *LoadOptions) error {
	m := it.model
	if cur := it.in.Current; cur != nil {
		switch {
		case cur.Commit == m.Commit && !o.Force:
			it.status = StatusUnchanged
		case cur.Commit != m.Commit && !o.Force:
			return fmt.Errorf("%w: %s is installed at commit %s, the bundle holds commit %s; pass --force to replace it (or `modelhub rm %s` first)", ErrConflict, m.Name, short(cur.Commit), short(m.Commit), m.Name)
		default:
			it.status = StatusReplaced
		}
	}
	if it.status == StatusReplaced && o.InUse != nil {
		busy, err := o.InUse(ctx, m.Name, it.in.Final)
		if err != nil {
			return fmt.Errorf("load %s: %w", m.Name, err)
		}
		if busy {
			return fmt.Errorf("%w: %s is running or starting; stop it before replacing it (modelhub stop %s)", ErrConflict, m.Name, m.Name)
		}
	}
	return nil
}

// extract streams every entry of the bundle, checking each against its
// checksum: model files into their staging folders (or nowhere, for a model
// unchanged), images.tar into the engine as it passes. It returns the image
// load started, also on failure (the caller aborts it).
func (b *bundleFile) extract(ctx context.Context, o *LoadOptions, all []*install) (images *imageLoad, err error) {
	byName := map[string]*install{}
	for _, it := range all {
		byName[it.model.Name] = it
	}
	buf := make([]byte, copyBuf)
	h := sha256.New()
	for _, e := range b.man.Entries {
		if err := ctx.Err(); err != nil {
			return images, err
		}
		if _, err := b.next(e); err != nil {
			return images, err
		}
		if e.Path == ImagesName {
			if images, err = startImages(ctx, o, b, e, h, buf); err != nil {
				return images, err
			}
			continue
		}
		parts := strings.SplitN(e.Path, "/", 3)
		if err := b.extractEntry(ctx, o, byName[parts[1]], parts[2], e, h); err != nil {
			return images, err
		}
	}
	if _, err := b.tr.Next(); err != io.EOF {
		if err == nil {
			return images, fmt.Errorf("%s: %w: it holds entries its manifest does not list", o.Path, ErrDamaged)
		}
		return images, b.errorf(err)
	}
	// A compressed bundle ends with the compressor's own checksum.
	if _, err := io.CopyBuffer(io.Discard, b.dec, buf); err != nil {
		return images, b.errorf(err)
	}
	return images, nil
}

// extractEntry writes the entry e, at rel in the model of it, and checks
// its checksum (hashed into h).
func (b *bundleFile) extractEntry(ctx context.Context, o *LoadOptions, it *install, rel string, e Entry, h hash.Hash) (err error) {
	if e.Type == TypeDir {
		if it.root != nil {
			if err := it.root.MkdirAll(rel, 0o755); err != nil {
				return writeErr(it, err)
			}
		}
		return nil
	}
	var w io.Writer = io.Discard
	var f io.WriteCloser
	if it.root != nil {
		if dir := path.Dir(rel); dir != "." {
			if err := it.root.MkdirAll(dir, 0o755); err != nil {
				return writeErr(it, err)
			}
		}
		mode := os.FileMode(0o644)
		if e.Mode&0o111 != 0 {
			mode = 0o755
		}
		if f, err = o.openFile(it.root, rel, mode); err != nil {
			return writeErr(it, err)
		}
		w = &writeback{w: f}
		it.files = append(it.files, rel)
	}
	h.Reset()
	_, err = copyHashed(w, b.tr, h)
	if osf, ok := f.(*os.File); ok && err == nil {
		// Start writing the rest now; the fsync before the commit waits for it.
		startWriteback(osf, 0, 0)
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isWriteErr(err) {
			return writeErr(it, err)
		}
		return b.errorf(err)
	}
	return b.checkSum(e, h)
}

// checkInstalls makes each staged model's files durable and checks that its
// manifest is of the commit and image the bundle names.
func checkInstalls(bundlePath string, all []*install) error {
	for _, it := range all {
		if it.in == nil {
			continue
		}
		if err := syncFiles(it.root, it.files); err != nil {
			return writeErr(it, err)
		}
		it.root.Close()
		it.root = nil
		sm, err := store.ReadManifest(it.in.Dir)
		if err != nil || sm.Commit != it.model.Commit || (sm.DockerID != "" && sm.DockerID != it.model.DockerID) {
			return fmt.Errorf("%s: %w: model %s has no manifest of commit %s and image %s", bundlePath, ErrDamaged, it.model.Name, short(it.model.Commit), it.model.DockerID)
		}
	}
	return nil
}

// commitInstalls puts every staged model in place and says where each
// model of the bundle is.
func commitInstalls(ctx context.Context, o *LoadOptions, all []*install) ([]LoadedModel, error) {
	var out []LoadedModel
	for _, it := range all {
		lm := LoadedModel{Name: it.model.Name, Commit: it.model.Commit, Status: it.status}
		if it.in == nil {
			lm.Path = store.Dir(o.Store.Home, it.model.Name)
			if m, err := o.Store.Resolve(ctx, it.model.Name); err == nil {
				lm.Path = m.Dir
			}
			out = append(out, lm)
			continue
		}
		lm.Path = it.in.Final
		in := it.in
		it.in = nil
		if err := in.Commit(); err != nil {
			return nil, err
		}
		out = append(out, lm)
	}
	return out, nil
}

func (b *bundleFile) checkSum(e Entry, h hash.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
		return fmt.Errorf("%s: %w: %s does not match its checksum (sha256 %s, the manifest says %s); copy the bundle again", b.path, ErrDamaged, e.Path, short(got), short(e.SHA256))
	}
	return nil
}

func writeErr(it *install, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("install %s: the disk is full; free some space and load again (nothing was installed)", it.model.Name)
	}
	return fmt.Errorf("install %s: %w (nothing was installed)", it.model.Name, err)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// imageLoad is a bundle's image export on its way into Docker: every
// entry but its metadata sent while the bundle is read, the metadata
// (checked, and stripped of image names) held back, so Docker's request
// stays incomplete until the whole bundle has been verified. Then finish
// completes it and tags the bundle's images; abort breaks it and Docker
// loads nothing.
type imageLoad struct {
	ctx    context.Context
	o      *LoadOptions
	images []Image
	meta   *exportMeta
	tw     *tar.Writer
	// pw is the request body Docker reads; nil when every image was present
	// and the export is only verified.
	pw   *io.PipeWriter
	done chan loadDone
	// before says which image IDs existed before the load; oldRef the ID
	// each image reference named ("" none).
	before map[string]bool
	oldRef map[string]string
	ended  bool
}

type loadDone struct {
	loaded []string
	err    error
}

// errStopped: Docker ended the load before reading its end.
var errStopped = errors.New("load images: the Docker engine stopped reading them before their end")

// pipeWriter marks write errors of the request to Docker.
type pipeWriter struct{ w io.Writer }

func (p pipeWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if err != nil {
		err = pipeErr{err}
	}
	return n, err
}

// pipeErr is a failed write to the engine.
type pipeErr struct{ err error }

func (e pipeErr) Error() string { return e.err.Error() }

// startImages streams the image export of the bundle (entry e, positioned
// at its data) into Docker while hashing and checking it. When every image
// is already present with its ID, the export is only verified.
func startImages(ctx context.Context, o *LoadOptions, b *bundleFile, e Entry, h hash.Hash, buf []byte) (il *imageLoad, err error) {
	il = &imageLoad{ctx: ctx, o: o, images: b.man.Images}
	present := true
	for _, im := range b.man.Images {
		got, err := o.Docker.ImageInspect(ctx, im.Ref)
		if err != nil && !errors.Is(err, dockerrun.ErrImageNotFound) {
			return nil, err
		}
		if err != nil || got.ID != im.ID {
			present = false
		}
	}
	var sink io.Writer = io.Discard
	if !present {
		il.before, il.oldRef = map[string]bool{}, map[string]string{}
		for _, im := range b.man.Images {
			if got, err := o.Docker.ImageInspect(ctx, im.Ref); err == nil {
				il.oldRef[im.Ref] = got.ID
			}
			if il.before[im.ID], err = il.exists(ctx, im.ID); err != nil {
				return nil, err
			}
		}
		o.note("loading %d image(s) into Docker", len(b.man.Images))
		pr, pw := io.Pipe()
		il.pw, il.done = pw, make(chan loadDone, 1)
		go func() {
			loaded, err := o.Docker.ImageLoad(ctx, pr)
			if err != nil {
				pr.CloseWithError(err)
			} else {
				pr.CloseWithError(errStopped)
			}
			il.done <- loadDone{loaded, err}
		}()
		sink = pipeWriter{pw}
		defer func() {
			if err != nil {
				il.abort(err)
			}
		}()
	}
	il.tw = tar.NewWriter(sink)
	h.Reset()
	tee := io.TeeReader(b.tr, h)
	meta, ferr := filterExport(il.tw, tee, newAllowed(b.man.Images), buf)
	if isPipeErr(ferr) {
		return nil, il.engineErr()
	}
	// The rest of the entry (the export's end), then its checksum: a
	// damaged bundle is reported as such before what its export holds.
	if _, err := io.CopyBuffer(io.Discard, tee, buf); err != nil {
		return nil, b.errorf(err)
	}
	if err := b.checkSum(e, h); err != nil {
		return nil, err
	}
	if ferr != nil {
		if !errors.Is(ferr, errExport) {
			ferr = fmt.Errorf("%w is not a valid image export: %v", errExport, ferr)
		}
		return nil, fmt.Errorf("%s: %w", b.path, ferr)
	}
	il.meta = meta
	return il, nil
}

// exists says whether Docker holds the image id.
func (il *imageLoad) exists(ctx context.Context, id string) (bool, error) {
	_, err := il.o.Docker.ImageInspect(ctx, id)
	if errors.Is(err, dockerrun.ErrImageNotFound) {
		return false, nil
	}
	return err == nil, err
}

// engineErr waits for Docker, which stopped reading, and returns its reason.
func (il *imageLoad) engineErr() error {
	il.ended = true
	il.pw.CloseWithError(errStopped)
	if d := <-il.done; d.err != nil {
		return d.err
	}
	return errStopped
}

// abort breaks the request: Docker loads nothing of it.
func (il *imageLoad) abort(err error) {
	if il == nil || il.ended || il.pw == nil {
		return
	}
	il.ended = true
	il.pw.CloseWithError(err)
	<-il.done
}

// finish completes the export (its metadata, without names), waits for
// Docker to load it and tags the bundle's images. It says whether images
// were loaded. On failure Docker is left as it was: the images it added are
// removed, the tags it moved are put back.
func (il *imageLoad) finish() (bool, error) {
	if il.pw == nil {
		il.ended = true
		return false, il.meta.write(il.tw)
	}
	ctx := il.ctx
	for _, id := range il.meta.ids {
		if _, ok := il.before[id]; !ok {
			ex, err := il.exists(ctx, id)
			if err != nil {
				il.abort(err)
				return false, err
			}
			il.before[id] = ex
		}
	}
	if err := il.meta.write(il.tw); err != nil {
		if isPipeErr(err) {
			return false, il.engineErr()
		}
		il.abort(err)
		return false, err
	}
	il.ended = true
	il.pw.Close()
	d := <-il.done
	if d.err != nil {
		il.rollback(nil)
		return false, d.err
	}
	var tagged []Image
	for _, im := range il.images {
		err := ctx.Err()
		if err == nil {
			err = il.tag(ctx, im)
		}
		if err != nil {
			il.rollback(append(tagged, im))
			return false, err
		}
		tagged = append(tagged, im)
	}
	il.removeUnlisted(d.loaded)
	return true, nil
}

// tag names the loaded image im.ID im.Ref and checks it.
func (il *imageLoad) tag(ctx context.Context, im Image) error {
	got, err := il.o.Docker.ImageInspect(ctx, im.ID)
	if err != nil {
		return fmt.Errorf("image %s (%s) is not in Docker after loading: %w", im.Ref, short(im.ID), err)
	}
	if got.ID != im.ID {
		return fmt.Errorf("image %s has ID %s after loading, the bundle says %s", im.Ref, short(got.ID), short(im.ID))
	}
	if n, err := reference.ParseNormalizedNamed(im.Ref); err == nil {
		if _, digested := n.(reference.Canonical); !digested {
			if err := il.o.Docker.ImageTag(ctx, im.ID, im.Ref); err != nil {
				return err
			}
		}
	}
	got, err = il.o.Docker.ImageInspect(ctx, im.Ref)
	if err != nil {
		return fmt.Errorf("image %s is not in Docker after loading: %w", im.Ref, err)
	}
	if got.ID != im.ID {
		return fmt.Errorf("image %s has ID %s after loading, the bundle says %s", im.Ref, short(got.ID), short(im.ID))
	}
	return nil
}

// cleanupTimeout bounds putting Docker back after a failed load.
const cleanupTimeout = time.Minute

// rollback puts back the tags of images (tagged, or being tagged) and
// removes the images the load added. It runs even after Ctrl-C.
func (il *imageLoad) rollback(tagged []Image) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(il.ctx), cleanupTimeout)
	defer cancel()
	d := il.o.Docker
	for i := len(tagged) - 1; i >= 0; i-- {
		im := tagged[i]
		switch old := il.oldRef[im.Ref]; {
		case old == im.ID:
		case old != "":
			_ = d.ImageTag(ctx, old, im.Ref)
		case !il.before[im.ID]:
			// A new image: removing it (below) removes its name too.
		default:
			// An image that was there without this name: Docker cannot
			// drop a name without removing the image when it is the
			// image's only one, so the name stays (on the right image).
		}
	}
	for _, id := range il.added() {
		_ = d.ImageRemove(ctx, id)
	}
}

// added are the image IDs the load may have added: every one it knows of
// that did not exist before.
func (il *imageLoad) added() []string {
	var ids []string
	seen := map[string]bool{}
	for _, im := range il.images {
		if !il.before[im.ID] && !seen[im.ID] {
			seen[im.ID] = true
			ids = append(ids, im.ID)
		}
	}
	for _, id := range il.meta.ids {
		if ex, ok := il.before[id]; ok && !ex && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// removeUnlisted removes images a successful load added that the bundle
// does not list (an altered export can carry more; they are left untagged,
// and removed here).
func (il *imageLoad) removeUnlisted(loaded []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(il.ctx), cleanupTimeout)
	defer cancel()
	listed := map[string]bool{}
	for _, im := range il.images {
		listed[im.ID] = true
	}
	for _, id := range il.added() {
		if listed[id] {
			continue
		}
		got, err := il.o.Docker.ImageInspect(ctx, id)
		if err != nil || listed[got.ID] || len(got.RepoTags) > 0 {
			continue
		}
		_ = il.o.Docker.ImageRemove(ctx, id)
	}
}

// syncFiles makes the files written durable (most of their bytes are on
// disk already, see startWriteback), so a crash after the commit never
// leaves a complete-looking model with missing bytes.
func syncFiles(root *os.Root, files []string) error {
	for _, name := range files {
		f, err := root.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
