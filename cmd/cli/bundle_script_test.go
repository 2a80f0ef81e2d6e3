package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The bundle scripts (save/load) add:
//
//	unique-image     build a demo image no other image shares a layer tip with,
//	                 set $IMAGE to it (after docker-setup, before demo-model or
//	                 serve-demo-model), and remove it when the script ends
//	image-rm REF     remove the local image REF
//	[!] image REF    the local image REF exists
//	tamper FILE ENTRY   flip one byte in the middle of ENTRY's data in the bundle FILE
//	set-commit COMMIT   record COMMIT in the manifest of the downloaded $MODEL
//	image-id REF VAR    set $VAR to the ID of the local image REF
//	[!] image REF [ID]  the local image REF exists (with ID)
//	retag-bundle IN OUT REF  write OUT: IN whose images.tar also tags its
//	                    image REF, the bundle's checksums fixed (an attacker's edit)
//	append-entry IN OUT write OUT: IN with an entry after images.tar

func init() {
	scriptCmds["unique-image"] = cmdUniqueImage
	scriptCmds["image-rm"] = cmdImageRm
	scriptCmds["image"] = cmdImage
	scriptCmds["tamper"] = cmdTamper
	scriptCmds["set-commit"] = cmdSetCommit
	scriptCmds["image-id"] = cmdImageID
	scriptCmds["retag-bundle"] = cmdRetagBundle
	scriptCmds["append-entry"] = cmdAppendEntry
}

func cmdUniqueImage(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ref, err := testutil.BuildUniqueDemoImage(ctx, c)
	ts.Check(err)
	ts.Defer(func() {
		removeModelContainers(c, ts.Getenv("MODEL"))
		testutil.RemoveImage(c, ref)
	})
	ts.Setenv("IMAGE", ref)
}

func cmdImageRm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: image-rm REF")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.Check(mustDocker(ts).ImageRemove(ctx, args[0]))
}

func cmdImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: image REF [ID]")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	im, err := mustDocker(ts).ImageInspect(ctx, args[0])
	switch {
	case errors.Is(err, dockerrun.ErrImageNotFound):
		if !neg {
			ts.Fatalf("image %s does not exist", args[0])
		}
	case err != nil:
		ts.Fatalf("inspect %s: %v", args[0], err)
	case neg:
		ts.Fatalf("image %s exists (%s)", args[0], im.ID)
	case len(args) == 2 && im.ID != args[1]:
		ts.Fatalf("image %s is %s, want %s", args[0], im.ID, args[1])
	}
}

func cmdImageID(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: image-id REF VAR")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	im, err := mustDocker(ts).ImageInspect(ctx, args[0])
	ts.Check(err)
	ts.Setenv(args[1], im.ID)
}

// rewriteBundle writes the uncompressed bundle in to out with edit applied
// to each entry's data and extra entries appended, and the bundle
// manifest's sizes and sha256 sums fixed to match: what anyone can do to a
// bundle, which carries no signature.
func rewriteBundle(ts *testscript.TestScript, in, out string, edit func(name string, data []byte) []byte, extra map[string][]byte) {
	f, err := os.Open(ts.MkAbs(in))
	ts.Check(err)
	defer f.Close()
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		ts.Check(err)
		data, err := io.ReadAll(tr)
		ts.Check(err)
		if edit != nil {
			data = edit(hdr.Name, data)
		}
		entries = append(entries, entry{hdr, data})
	}
	var man map[string]any
	ts.Check(json.Unmarshal(entries[0].data, &man))
	sums := map[string]entry{}
	for _, e := range entries[1:] {
		sums[strings.TrimSuffix(e.hdr.Name, "/")] = e
	}
	for _, me := range man["entries"].([]any) {
		me := me.(map[string]any)
		if e, ok := sums[me["path"].(string)]; ok && e.hdr.Typeflag == tar.TypeReg {
			h := sha256.Sum256(e.data)
			me["size"], me["sha256"] = len(e.data), hex.EncodeToString(h[:])
		}
	}
	entries[0].data, err = json.Marshal(man)
	ts.Check(err)
	for name, data := range extra {
		entries = append(entries, entry{&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, data})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		e.hdr.Size = int64(len(e.data))
		ts.Check(tw.WriteHeader(e.hdr))
		_, err := tw.Write(e.data)
		ts.Check(err)
	}
	ts.Check(tw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(out), buf.Bytes(), 0o644))
}

func cmdRetagBundle(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: retag-bundle IN OUT REF")
	}
	rewriteBundle(ts, args[0], args[1], func(name string, data []byte) []byte {
		if name != "images.tar" {
			return data
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tr := tar.NewReader(bytes.NewReader(data))
		found := false
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			ts.Check(err)
			body, err := io.ReadAll(tr)
			ts.Check(err)
			if hdr.Name == "manifest.json" {
				var items []map[string]any
				ts.Check(json.Unmarshal(body, &items))
				items[0]["RepoTags"] = append(items[0]["RepoTags"].([]any), args[2])
				body, err = json.Marshal(items)
				ts.Check(err)
				hdr.Size = int64(len(body))
				found = true
			}
			ts.Check(tw.WriteHeader(hdr))
			_, err = tw.Write(body)
			ts.Check(err)
		}
		ts.Check(tw.Close())
		if !found {
			ts.Fatalf("retag-bundle: images.tar has no manifest.json")
		}
		return buf.Bytes()
	}, nil)
}

func cmdAppendEntry(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: append-entry IN OUT")
	}
	rewriteBundle(ts, args[0], args[1], nil, map[string][]byte{"zz-extra": []byte("appended after images.tar\n")})
}

type offsetReader struct {
	r io.Reader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: tamper FILE ENTRY")
	}
	path := ts.MkAbs(args[0])
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	// tar.Reader reads no further than it must: after Next the offset is the data's.
	or := &offsetReader{r: f}
	tr := tar.NewReader(or)
	for {
		hdr, err := tr.Next()
		if err != nil {
			ts.Fatalf("tamper: %s not found in %s: %v", args[1], args[0], err)
		}
		if hdr.Name != args[1] {
			continue
		}
		at := or.n + hdr.Size/2
		b := make([]byte, 1)
		_, err = f.ReadAt(b, at)
		ts.Check(err)
		b[0] ^= 0xff
		_, err = f.WriteAt(b, at)
		ts.Check(err)
		return
	}
}

func cmdSetCommit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: set-commit COMMIT")
	}
	home := ts.Getenv("MODELHUB_HOME")
	if home == "" {
		home = filepath.Join(ts.Getenv("XDG_DATA_HOME"), "modelhub")
	}
	dir := store.Dir(home, ts.Getenv("MODEL"))
	m, err := store.ReadManifest(dir)
	ts.Check(err)
	m.Commit = args[0]
	ts.Check(store.WriteManifest(dir, m))
}
