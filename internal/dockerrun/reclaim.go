package dockerrun

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// reclaimTarget is where Chown mounts the host folder.
const reclaimTarget = "/modelhub-reclaim"

// Chown gives the host folder dir and everything in it to uid:gid, through
// a short-lived container of image (which must be present locally: nothing
// is pulled; a missing one is an error matching ErrImageNotFound) running `chown -R` as root with dir mounted and no network.
// It is how files a model container wrote as root in the user's model folder
// are given back, so that the folder can be removed or replaced. The
// container is removed whatever happens; ctx bounds the whole call.
func (c *Client) Chown(ctx context.Context, image, dir string, uid, gid int) error {
	if _, err := c.ImageInspect(ctx, image); err != nil {
		return err
	}
	cfg := &container.Config{
		Image:           image,
		User:            "0:0",
		Entrypoint:      []string{"chown", "-R", strconv.Itoa(uid) + ":" + strconv.Itoa(gid), reclaimTarget},
		Cmd:             []string{},
		NetworkDisabled: true,
		Labels:          map[string]string{"ai.modelhub.reclaim": dir},
	}
	hc := &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: reclaimTarget}}}
	resp, err := c.api.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil {
		return fmt.Errorf("create a container of %s to give %s back: %w", image, dir, c.wrap(err))
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWait)
		defer cancel()
		_ = c.Remove(rctx, resp.ID)
	}()
	if err := c.api.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start a container of %s to give %s back: %w", image, dir, c.wrap(err))
	}
	code, err := c.Wait(ctx, resp.ID)
	if err != nil {
		return err
	}
	if code != 0 {
		var out bytes.Buffer
		_ = c.Logs(ctx, resp.ID, LogsOptions{}, &out, &out)
		msg := strings.TrimSpace(out.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = "no output"
		}
		return fmt.Errorf("chown in a container of %s exited with code %d: %s", image, code, msg)
	}
	return nil
}

// cleanupWait bounds the removal of Chown's container.
const cleanupWait = 30 * time.Second
