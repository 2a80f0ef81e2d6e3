// Package safepath owns the rules for the names and paths modelhub writes
// inside its folders: a model name (one folder), an init.json dest_file_path
// (a path relative to a model folder) and the links a model repository may
// carry on such a path.
//
// The name rules are those of every platform modelhub ships on (Linux, macOS,
// Windows), checked whatever platform runs the check: a model published from
// Linux must be safe to pull on Windows. Two paths name the same file when
// their Keys are equal (Windows and macOS ignore case, Windows drops trailing
// dots and spaces, macOS normalises Unicode).
package safepath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Files a download writes beside its destination DEST: DEST.part holds the
// bytes so far, DEST.part.json what they were fetched from (for resume).
const (
	PartSuffix    = ".part"
	SidecarSuffix = ".part.json"
)

// Beside lists the paths a download of dest writes: dest, its .part file and
// its sidecar.
func Beside(dest string) []string {
	return []string{dest, dest + PartSuffix, dest + SidecarSuffix}
}

// ErrUnsafe is wrapped by every refusal of this package (errors.Is).
var ErrUnsafe = errors.New("unsafe path")

// Error is a name or path refused by the rules; its text says why.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return ErrUnsafe }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// invalidChars are not allowed in a Windows file name ('/' and '\' separate
// segments and are checked by the callers).
const invalidChars = `<>:"|?*`

// reserved are Windows device names: a file named so (with any extension, in
// any case, with trailing spaces) opens the device instead.
var reserved = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}
	for _, d := range "0123456789¹²³" {
		m["COM"+string(d)] = true
		m["LPT"+string(d)] = true
	}
	return m
}()

// IsReserved reports whether seg is a Windows device name (CON, NUL, COM1,
// lpt1.txt, "aux .bin"...).
func IsReserved(seg string) bool {
	stem, _, _ := strings.Cut(seg, ".")
	stem = strings.TrimRight(stem, " ")
	return reserved[strings.ToUpper(stem)]
}

// CheckSegment checks one folder or file name against the rules of every
// platform: not empty, "." or "..", no separator, no character Windows
// refuses (<>:"|?* and control characters; ':' would also name an NTFS
// alternate data stream), no trailing dot or space (Windows drops them, so
// ".git." is ".git" there) and no Windows device name.
func CheckSegment(seg string) error {
	switch {
	case seg == "":
		return refuse("empty name")
	case seg == "." || seg == "..":
		return refuse("%q is not a name", seg)
	case strings.ContainsAny(seg, `/\`):
		return refuse("%q contains a path separator", seg)
	case strings.ContainsAny(seg, invalidChars):
		return refuse("%q contains one of %s, which Windows does not allow in names", seg, invalidChars)
	case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
		return refuse("%q ends with a dot or a space, which Windows drops (it would be %q there)", seg, strings.TrimRight(seg, ". "))
	case IsReserved(seg):
		return refuse("%q is a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, also with an extension)", seg)
	}
	for _, r := range seg {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return refuse("%q contains a control character or invalid UTF-8", seg)
		}
	}
	return nil
}

// CheckRel checks a path meant relative to a folder, with "/" or "\"
// separators, and returns it cleaned and slash-separated. A leading "/" is
// allowed and means the folder itself (init.json writes "/contrib_src/...");
// a drive ("C:"), a UNC or device path ("\\server\share", "\\?\C:\x"), ".."
// and every segment CheckSegment refuses are not.
func CheckRel(p string) (string, error) {
	s := strings.ReplaceAll(p, `\`, "/")
	switch {
	case strings.HasPrefix(s, "//"):
		return "", refuse(`is a UNC or device path (\\server\share, \\?\C:\...): give a path inside the model folder`)
	case len(s) >= 2 && s[1] == ':' && s[0] < unicode.MaxASCII && unicode.IsLetter(rune(s[0])):
		return "", refuse("names a drive (C:): give a path inside the model folder")
	}
	var segs []string
	for _, seg := range strings.Split(s, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", refuse("path leaves the model folder")
		}
		if err := CheckSegment(seg); err != nil {
			return "", err
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return "", refuse("names the model folder itself, not a file")
	}
	return strings.Join(segs, "/"), nil
}

var fold = cases.Fold()

// Key is what two paths (slash-separated) are compared by: equal keys name
// the same file on some platform. Each segment loses its trailing dots and
// spaces (Windows), is normalised to NFC (macOS) and case-folded (Windows,
// macOS).
func Key(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = fold.String(norm.NFC.String(strings.TrimRight(seg, ". ")))
	}
	return strings.Join(segs, "/")
}

// First returns the first segment of a slash-separated path.
func First(p string) string {
	first, _, _ := strings.Cut(p, "/")
	return first
}

// LinkError reports a path modelhub would write that goes through a
// symbolic link (or another entry that is not a plain folder or file) found
// in the folder, e.g. one a model repository carries.
type LinkError struct {
	// Path is the path to be written, Link the entry in the way, both
	// relative to the folder and slash-separated; Target is where a link
	// points ("" when it is not a link or cannot be read).
	Path, Link, Target string
	// NotDir: Link is a file where a folder is needed.
	NotDir bool
}

func (e *LinkError) Error() string {
	prefix := e.Path + ": "
	if e.Path == e.Link {
		prefix = ""
	}
	switch {
	case e.NotDir:
		return fmt.Sprintf("%s%s is a file, not a folder", prefix, e.Link)
	case e.Target != "":
		return fmt.Sprintf("%s%s is a symbolic link (to %s): modelhub never writes through links in a model folder", prefix, e.Link, e.Target)
	}
	return fmt.Sprintf("%s%s is a symbolic link or special file: modelhub never writes through links in a model folder", prefix, e.Link)
}

func (e *LinkError) Unwrap() error { return ErrUnsafe }

// CheckLinks makes sure writing rel (slash-separated, as CheckRel returns it)
// inside root follows no link: every parent that exists must be a real
// folder, and rel itself, when it exists, must not be a link or special file
// (a folder or regular file is for the caller to judge).
func CheckLinks(root *os.Root, rel string) error { return checkLinks(root, rel, rel) }

func checkLinks(root *os.Root, dest, rel string) error {
	segs := strings.Split(rel, "/")
	for i := range segs {
		cur := path.Join(segs[:i+1]...)
		fi, err := root.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		last := i == len(segs)-1
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := root.Readlink(cur)
			if target == "" {
				target = "?"
			}
			return &LinkError{Path: dest, Link: cur, Target: target}
		case fi.IsDir() || (last && fi.Mode().IsRegular()):
		case !last && fi.Mode().IsRegular():
			return &LinkError{Path: dest, Link: cur, NotDir: true}
		default:
			return &LinkError{Path: dest, Link: cur}
		}
	}
	return nil
}

// CheckWrite is CheckLinks for every path a download of rel writes (Beside).
func CheckWrite(root *os.Root, rel string) error {
	for _, p := range Beside(rel) {
		if err := checkLinks(root, rel, p); err != nil {
			return err
		}
	}
	return nil
}

// Mounted lists the folders of a model folder that a container mounts (as
// Docker bind mounts, whose source the host resolves): each must be a real
// folder inside the model folder, never a link, nor under one.
var Mounted = []string{ContribSrc}

// ContribSrc is the name of a model folder's contrib_src, spelled here
// once: safepath is the lowest package that must know it; the model layout
// (config.ContribSrc, store.Model.ContribSrc) is built on it.
const ContribSrc = "contrib_src"

// maxLinkHops bounds the links followed resolving one path (Linux's limit).
const maxLinkHops = 40

// TreeError reports a symbolic link in a model folder that modelhub refuses:
// the entry (relative to the folder, slash-separated), where it points and why.
type TreeError struct {
	Entry, Target, Why string
}

func (e *TreeError) Error() string {
	return fmt.Sprintf("%q is a symbolic link to %q: %s", e.Entry, e.Target, e.Why)
}

func (e *TreeError) Unwrap() error { return ErrUnsafe }

// CheckTree checks the links of a model folder (a clone or a local folder)
// before modelhub reads it, mounts it or hands it to a container:
//
//   - a mounted folder (Mounted: contrib_src) and every component on its path
//     must be a real folder: a link there would make Docker mount whatever it
//     points to on the host (the host's / with enough "..");
//   - every other link must resolve, through the folder's own links, to a
//     path inside the folder and outside .git and .modelhub (git's and
//     modelhub's): an absolute target, one that climbs out with "..", or a
//     loop is refused.
//
// Links that stay inside (contrib_src/model/w -> ../weights/w) are kept. The
// clone's .git and modelhub's .modelhub are not walked. The first refused
// link (in lexical order) is returned as a *TreeError.
func CheckTree(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, m := range Mounted {
		if err := checkMounted(root, m); err != nil {
			return err
		}
	}
	fsys := root.FS()
	return fsWalk(fsys, func(rel string, mode os.FileMode) error {
		if mode&os.ModeSymlink == 0 {
			return nil
		}
		target, err := root.Readlink(rel)
		if err != nil {
			return err
		}
		res, err := ResolveIn(root, rel)
		if err != nil {
			return &TreeError{Entry: rel, Target: target, Why: err.Error() + "; modelhub refuses links out of a model folder (replace the link with the file or folder itself)"}
		}
		if first := First(res); first == ".git" || first == ".modelhub" {
			return &TreeError{Entry: rel, Target: target, Why: "it points into " + first + ", which belongs to git/modelhub (replace the link with the file or folder itself)"}
		}
		return nil
	})
}

// checkMounted refuses a link (or a file) at any component of the mounted
// folder rel; a missing folder is the caller's to report.
func checkMounted(root *os.Root, rel string) error {
	segs := strings.Split(rel, "/")
	for i := range segs {
		cur := path.Join(segs[:i+1]...)
		fi, err := root.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := root.Readlink(cur)
			return &TreeError{Entry: cur, Target: target, Why: "the container mounts " + rel + ", so it must be a real folder inside the model folder, not a link (replace the link with the folder itself)"}
		}
		if !fi.IsDir() {
			return refuse("%q is not a folder: the container mounts %s, so it must be a real folder inside the model folder", cur, rel)
		}
	}
	return nil
}

// fsWalk calls fn for every entry below the root of fsys (never following
// links), skipping .git and .modelhub at the top.
func fsWalk(fsys fs.FS, fn func(rel string, mode os.FileMode) error) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() && (p == ".git" || p == ".modelhub") {
			return fs.SkipDir
		}
		return fn(p, d.Type())
	})
}

// ResolveIn resolves rel (slash-separated) inside root the way the operating
// system would, following the links it meets, and returns the resolved path
// relative to root. It fails when a link is absolute, when the path climbs out
// of root, or after too many links (a loop). A missing component ends the
// links: the rest is joined as it is.
func ResolveIn(root *os.Root, rel string) (string, error) {
	todo := strings.Split(filepath.ToSlash(rel), "/")
	var cur []string
	hops := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "", errors.New("it leads out of the model folder")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := path.Join(append(append([]string{}, cur...), seg)...)
		fi, err := root.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = append(cur, seg)
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", errors.New("it is part of a loop of links (or a chain of more than 40)")
		}
		target, err := root.Readlink(p)
		if err != nil {
			return "", err
		}
		t := filepath.ToSlash(target)
		if strings.HasPrefix(t, "/") || filepath.IsAbs(target) || filepath.VolumeName(target) != "" {
			return "", errors.New("it is an absolute link, which leads out of the model folder")
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return path.Join(cur...), nil
}

// CreateNew creates path as a new file for writing (a temporary such as
// OUTPUT.part that is renamed into place), never opening what is there: a
// left-over file, or a link someone planted in a shared folder to make the
// write land elsewhere, is removed first, and O_EXCL refuses one that
// reappears.
func CreateNew(path string, perm fs.FileMode) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
}
