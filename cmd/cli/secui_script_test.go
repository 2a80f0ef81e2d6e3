package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["label-image"] = cmdLabelImage
	scriptCmds["serve-status"] = cmdServeStatus
	scriptCmds["mv-unquote"] = cmdMvUnquote
}

// mv-unquote SRC DST: rename SRC to DST, whose Go escapes (\n, \x1b) are
// interpreted: a file name no script line can hold.
func cmdMvUnquote(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mv-unquote SRC DST")
	}
	dst, err := strconv.Unquote(`"` + strings.ReplaceAll(args[1], `"`, `\"`) + `"`)
	ts.Check(err)
	ts.Check(os.Rename(ts.MkAbs(args[0]), ts.MkAbs(dst)))
}

// serve-status STATUS-LINE: serve, on 127.0.0.1, the HTTP status line given
// (Go escapes such as \x1b allowed) with an empty body to every request; sets
// $STATUS_URL. A server can put anything in its reason phrase.
func cmdServeStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: serve-status STATUS-LINE")
	}
	line, err := strconv.Unquote(`"` + strings.ReplaceAll(args[0], `"`, `\"`) + `"`)
	ts.Check(err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = bufio.NewReader(c).ReadString('\n') // the request line is enough
				_, _ = io.WriteString(c, line+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	ts.Setenv("STATUS_URL", "http://"+l.Addr().String())
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
