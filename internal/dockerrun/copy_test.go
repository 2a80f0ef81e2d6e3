package dockerrun_test

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A multi-input case copied into a running demo engine is found there by the
// paths of the case JSON; after Exec rm it is gone.
func TestEngine_copyFilesAndExec(t *testing.T) {
	c := testutil.Docker(t)
	ctx := t.Context()
	img := testutil.DemoImage(t, c)
	contrib := t.TempDir()
	os.MkdirAll(filepath.Join(contrib, "model"), 0o755)
	os.WriteFile(filepath.Join(contrib, "model", "config.json"), []byte(`{"id": "x", "meta": {"name": "multi"}, "model": {"io": {
	  "input": {"format": ["application/json"], "t1": {"format": ["image/png"]}, "t2": {"format": ["image/png"]}},
	  "output": [{"name": "brightness", "type": "label_list"}]}}}`), 0o644)
	host := t.TempDir()
	var png1 bytes.Buffer
	png.Encode(&png1, image.NewGray(image.Rect(0, 0, 3, 3)))
	os.WriteFile(filepath.Join(host, "a.png"), png1.Bytes(), 0o644)
	os.WriteFile(filepath.Join(host, "b.png"), png1.Bytes(), 0o644)

	spec := apiSpec(t, img, contrib, testutil.FreePort(t))
	id, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	removeAfter(t, c, id)
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	testutil.WaitHTTP(t, spec.APIURL+"/api/get_config", 30*time.Second)

	err = c.CopyFiles(ctx, id, "/tmp", []dockerrun.CopyFile{
		{Host: filepath.Join(host, "a.png"), Name: "mh-case/1/t1.png"},
		{Host: filepath.Join(host, "b.png"), Name: "mh-case/1/t2.png"},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"format": ["application/json"], "t1": {"fileurl": "/tmp/mh-case/1/t1.png"}, "t2": {"fileurl": "/tmp/mh-case/1/t2.png"}}`
	if status, body := postCase(t, spec.APIURL, doc); status != 200 {
		t.Fatalf("predict on the copied case: %d %s", status, body)
	}
	code, out, err := c.Exec(ctx, id, []string{"rm", "-rf", "/tmp/mh-case"})
	if err != nil || code != 0 {
		t.Fatalf("exec rm: code %d, %v: %s", code, err, out)
	}
	if status, body := postCase(t, spec.APIURL, doc); status != 400 {
		t.Fatalf("predict after rm: %d %s, want 400 (files gone)", status, body)
	}
	if err := c.CopyFiles(ctx, id, "/tmp", []dockerrun.CopyFile{{Host: filepath.Join(host, "missing.png"), Name: "x/y.png"}}); err == nil {
		t.Error("copying a missing file succeeded")
	}
}

func postCase(t *testing.T, base, doc string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "case.json")
	fw.Write([]byte(doc))
	mw.Close()
	resp, err := http.Post(base+"/api/predict", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
