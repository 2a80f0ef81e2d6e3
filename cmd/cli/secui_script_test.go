package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["label-image"] = cmdLabelImage
}

// label-image KEY=VALUE...: rebuild $IMAGE with these image labels (VALUE
// may hold Go escapes such as \x1b), as a hostile model image would carry.
func cmdLabelImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: label-image KEY=VALUE...")
	}
	c := mustDocker(ts)
	image := ts.Getenv("IMAGE")
	var df strings.Builder
	fmt.Fprintf(&df, "FROM %s\n", image)
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("label-image: %q is not KEY=VALUE", a)
		}
		uv, err := strconv.Unquote(`"` + strings.ReplaceAll(v, `"`, `\"`) + `"`)
		ts.Check(err)
		fmt.Fprintf(&df, "LABEL %s=\"%s\"\n", k, strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(uv))
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	ts.Check(tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(df.Len())}))
	_, err := tw.Write([]byte(df.String()))
	ts.Check(err)
	ts.Check(tw.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	if err := c.ImageBuild(ctx, image, &buf, &log); err != nil {
		ts.Fatalf("label-image: %v\n%s", err, log.String())
	}
}
