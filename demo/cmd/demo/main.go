// Command demo shows modelhub end to end on a machine with Docker and no
// network: it builds the demo engine image through the Docker API, serves a
// demo index, the demo model's git repository and its external file on
// 127.0.0.1, runs the real `modelhub run demo`, prints the model's URLs and a
// prediction made through its REST API, and on Ctrl-C stops the model.
//
// The demo model stays installed (in modelhub's home, or -home) and its image
// stays in Docker, so `modelhub run demo`, `predict demo`, `save demo` work
// afterwards with no network and no demo server; -clean removes both instead
// (a temporary home, the image removed).
//
//	go run ./demo/cmd/demo [-modelhub bin/modelhub] [-home DIR] [-api-port N] [-ui-port N] [-clean] [-once]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/modelhub-ai/modelhub/demo/demoimage"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

// run builds what the demo needs, runs `modelhub run demo` against it and
// waits for the model to stop, then says how to use it again.
func run() error {
	f := parseFlags()

	// Ctrl-C reaches modelhub too (same process group); we wait for it to clean up.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "modelhub-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	c, err := dockerrun.Connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	image := demoImage(root)
	if err := buildImage(ctx, c, root, image); err != nil {
		return err
	}
	if !f.keepImage {
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			if err := c.ImageRemove(cctx, image); err == nil {
				say("removed the image %s", image)
			}
		}()
	}

	if f.bin == "" {
		if f.bin, err = buildModelhub(root, tmp); err != nil {
			return err
		}
	}
	srv, err := serveDemo(root, filepath.Join(tmp, "git"))
	if err != nil {
		return err
	}
	defer srv.Close()
	say("serving the demo index %s, its git repository and its weights on 127.0.0.1", srv.IndexURL)

	args, err := f.runArgs(srv.IndexURL, tmp)
	if err != nil {
		return err
	}
	say("running: modelhub %s", strings.Join(args, " "))
	mr, err := startRun(f.bin, args)
	if err != nil {
		return err
	}
	if ready, err := mr.wait(sigs, f.once); !ready || err != nil {
		return err
	}
	if f.clean {
		say("done: no container left; the downloaded model was in %s (removed)", f.home)
		return nil
	}
	again(f.bin, f.home, image)
	return nil
}

// demoFlags are the demo's command-line flags.
type demoFlags struct {
	bin, home              string
	apiPort, uiPort        int
	clean, keepImage, once bool
}

// parseFlags reads the command line; without -clean the image is always kept.
func parseFlags() *demoFlags {
	bin := flag.String("modelhub", "", "modelhub binary to run (default: build ./cmd/modelhub)")
	home := flag.String("home", "", "modelhub home to install the demo model in (default: modelhub's own, so it stays usable)")
	apiPort := flag.Int("api-port", 0, "host port of the model's REST API (default: modelhub's, 8000 or the next free one)")
	uiPort := flag.Int("ui-port", 0, "port of the web UI (default: modelhub's, 8800 or the next free one)")
	clean := flag.Bool("clean", false, "leave nothing behind: a temporary home, and the image removed at the end")
	keepImage := flag.Bool("keep-image", false, "with -clean: keep the image all the same")
	once := flag.Bool("once", false, "stop by itself after the first prediction (for scripts and tests)")
	flag.Parse()
	f := &demoFlags{bin: *bin, home: *home, apiPort: *apiPort, uiPort: *uiPort, clean: *clean, keepImage: *keepImage, once: *once}
	if !f.clean {
		f.keepImage = true
	}
	return f
}

// buildImage builds the demo engine image through the Docker API, for the
// engine's architecture: FROM scratch and one static Go binary.
func buildImage(ctx context.Context, c *dockerrun.Client, root, image string) error {
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	say("building the demo engine image %s through the Docker API (FROM scratch, one static Go binary)", image)
	arch := info.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	engineBin, err := demoimage.BuildEngine(ctx, arch)
	if err != nil {
		return err
	}
	tarCtx, err := demoimage.Context(engineBin, nil)
	if err != nil {
		return err
	}
	return c.ImageBuild(ctx, image, strings.NewReader(string(tarCtx)), nil)
}

// buildModelhub builds ./cmd/modelhub of the source tree at root into tmp and
// returns the binary's path.
func buildModelhub(root, tmp string) (string, error) {
	say("building modelhub")
	bin := filepath.Join(tmp, "modelhub")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/modelhub")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build modelhub: %w", err)
	}
	return bin, nil
}

// runArgs is the `modelhub run demo` command line against the demo index: in
// a temporary home under tmp with -clean, else in -home (made absolute, and
// recorded in f.home) or modelhub's own.
func (f *demoFlags) runArgs(indexURL, tmp string) ([]string, error) {
	args := []string{"--index", indexURL}
	switch {
	case f.clean:
		f.home = filepath.Join(tmp, "home")
		args = append(args, "--home", f.home)
	case f.home != "":
		abs, err := filepath.Abs(f.home)
		if err != nil {
			return nil, err
		}
		f.home = abs
		args = append(args, "--home", abs)
	}
	args = append(args, "run")
	if f.apiPort != 0 {
		args = append(args, "--api-port", fmt.Sprint(f.apiPort))
	}
	if f.uiPort != 0 {
		args = append(args, "--ui-port", fmt.Sprint(f.uiPort))
	}
	return append(args, "demo"), nil
}

// modelhubRun is a started `modelhub run`: its REST API's base URL once it
// prints it, and its end.
type modelhubRun struct {
	cmd    *exec.Cmd
	apiURL chan string
	exited chan error
}

// startRun starts bin with args in a process group of its own, copies its
// output to ours and watches it for the REST API's URL.
func startRun(bin string, args []string) (*modelhubRun, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	isolate(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	mr := &modelhubRun{cmd: cmd, apiURL: make(chan string, 1), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Println(line)
			if u, ok := strings.CutPrefix(line, "REST API: "); ok {
				mr.apiURL <- strings.TrimSuffix(u, engine.RouteConfig)
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { mr.exited <- cmd.Wait() }()
	return mr, nil
}

// wait makes a prediction once the model is ready, then waits for modelhub to
// end: by itself, after the first prediction with once, or on Ctrl-C
// (forwarded; a second one kills the container at once). ready is false when
// it was interrupted before the model was ready.
func (mr *modelhubRun) wait(sigs <-chan os.Signal, once bool) (ready bool, err error) {
	stopNow := make(chan os.Signal, 1)
	select {
	case base := <-mr.apiURL:
		if err := predictSample(base); err != nil {
			say("predict_sample failed: %v", err)
		}
		if once {
			stopNow <- os.Interrupt
		} else {
			say("the demo model is running; press Ctrl+C to stop it")
		}
	case err := <-mr.exited:
		return false, fmt.Errorf("modelhub run ended before the model was ready: %v", err)
	case <-sigs:
		say("interrupted; waiting for modelhub to clean up")
		forward(mr.cmd)
		<-mr.exited
		return false, nil
	}
	select {
	case err := <-mr.exited:
		if err != nil {
			return true, fmt.Errorf("modelhub run: %w", err)
		}
	case <-sigs:
		forward(mr.cmd)
		say("stopping: modelhub stops and removes the container")
		select {
		case <-mr.exited:
		case <-sigs:
			forward(mr.cmd) // a second Ctrl-C kills the container at once
			<-mr.exited
		}
	case <-stopNow:
		forward(mr.cmd)
		<-mr.exited
	}
	return true, nil
}

// again says how to use the demo model that stays installed, offline.
func again(bin, home, image string) {
	mh := bin
	if home != "" {
		mh += " --home " + home
	}
	say("done: no container left. The demo model stays installed and its image %s in Docker,", image)
	say("so it works offline, without this demo's server:")
	for _, l := range []string{
		"run it again:    " + mh + " run demo",
		"predict:         " + mh + " predict demo demo/model/contrib_src/sample_data/bright.png",
		"what it is:      " + mh + " info demo",
		"validate it:     " + mh + " validate ./demo/model",
		"remove it:       " + mh + " rm demo && docker rmi " + image,
	} {
		fmt.Fprintln(os.Stderr, "    "+l)
	}
}

// demoImage is the docker_id of demo/model/init/init.json.
func demoImage(root string) string {
	var in struct {
		DockerID string `json:"docker_id"`
	}
	data, err := os.ReadFile(filepath.Join(root, "demo", "model", "init", "init.json"))
	if err == nil && json.Unmarshal(data, &in) == nil && in.DockerID != "" {
		return in.DockerID
	}
	return "modelhub-demo-engine:1"
}

func predictSample(base string) error {
	c := engine.New(base)
	say("GET %s?filename=bright.png", c.URL(engine.RoutePredictSample))
	body, err := c.PredictSample(context.Background(), "bright.png")
	if err != nil {
		return err
	}
	fmt.Printf("%s", body)
	return nil
}

// moduleRoot is the folder holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the modelhub source tree (go.mod not found)")
		}
		dir = parent
	}
}
