package cli

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["png"] = cmdPNG
	scriptCmds["png-levels"] = cmdPNGLevels
	scriptCmds["wait-log"] = cmdWaitLog
	scriptCmds["kill-replica"] = cmdKillReplica
}

// kill-replica: kill one running container of $MODEL as `docker kill` does
// (SIGKILL through the engine's API), the one that has answered a
// prediction when there is one.
func cmdKillReplica(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.List(ctx, false)
	ts.Check(err)
	var victim string
	for _, ct := range cs {
		if ct.Model != ts.Getenv("MODEL") {
			continue
		}
		var buf bytes.Buffer
		_ = c.Logs(ctx, ct.ID, dockerrun.LogsOptions{}, &buf, &buf)
		if victim == "" || bytes.Contains(buf.Bytes(), []byte("POST /api/predict")) {
			victim = ct.ID
		}
	}
	if victim == "" {
		ts.Fatalf("no running container of %s", ts.Getenv("MODEL"))
	}
	ts.Check(c.Kill(ctx, victim))
}

// wait-log REGEXP: wait (up to a minute) until the log of $MODEL's running
// container matches REGEXP.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: wait-log REGEXP")
	}
	re := regexp.MustCompile(args[0])
	c := mustDocker(ts)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, err := c.List(ctx, false)
		ts.Check(err)
		for _, ct := range cs {
			if ct.Model != ts.Getenv("MODEL") {
				continue
			}
			var buf bytes.Buffer
			_ = c.Logs(ctx, ct.ID, dockerrun.LogsOptions{}, &buf, &buf)
			if re.Match(buf.Bytes()) {
				cancel()
				return
			}
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("no log of a container of %s matches %q after a minute", ts.Getenv("MODEL"), args[0])
}

// png FILE GRAY [SIZE]: write a SIZExSIZE (default 4) PNG of one gray level (0-255).
func cmdPNG(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: png FILE GRAY|LO-HI [SIZE]")
	}
	lo, hi, ramp := strings.Cut(args[1], "-")
	gray, err := strconv.Atoi(lo)
	ts.Check(err)
	gray2 := gray
	if ramp {
		gray2, err = strconv.Atoi(hi)
		ts.Check(err)
	}
	size := 4
	if len(args) == 3 {
		size, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		x := i % size
		img.Pix[i] = uint8(gray + (gray2-gray)*x/max(1, size-1))
	}
	p := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
	f, err := os.Create(p)
	ts.Check(err)
	ts.Check(png.Encode(f, img))
	ts.Check(f.Close())
}

// png-levels PATTERN: for each PNG the glob matches, print "min N max M",
// its darkest and brightest grey levels.
func cmdPNGLevels(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: png-levels PATTERN")
	}
	files, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(files) == 0 {
		ts.Fatalf("png-levels: nothing matches %s", args[0])
	}
	for _, f := range files {
		r, err := os.Open(f)
		ts.Check(err)
		img, err := png.Decode(r)
		r.Close()
		ts.Check(err)
		lo, hi := uint8(255), uint8(0)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
				lo, hi = min(lo, g), max(hi, g)
			}
		}
		fmt.Fprintf(ts.Stdout(), "min %d max %d\n", lo, hi)
	}
}
