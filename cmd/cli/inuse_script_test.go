package cli

import (
	"context"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
)

func init() {
	scriptCmds["create-container"] = cmdCreateContainer
}

// create-container: create (and not start) $MODEL's container, mounting the
// downloaded model's contrib_src, as a `run` that is starting it leaves it
// for a moment. docker-setup removes it at the end.
func cmdCreateContainer(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	home := ts.Getenv("MODELHUB_HOME")
	if home == "" {
		home = filepath.Join(ts.Getenv("XDG_DATA_HOME"), "modelhub")
	}
	model := ts.Getenv("MODEL")
	_, err := c.Create(ctx, dockerrun.Spec{Name: launch.ContainerName(model), Image: ts.Getenv("IMAGE"), Model: model, Mode: dockerrun.ModeAPI,
		ContribSrc: filepath.Join(store.Dir(home, model), "contrib_src"), HostIP: "127.0.0.1"})
	ts.Check(err)
}
