package cli

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// chowner is the part of the Docker client that gives a folder back (dockerrun.Client.Chown).
type chowner interface {
	Chown(ctx context.Context, image, dir string, uid, gid int) error
}

// reclaim is the store's Reclaimer: files a model container wrote as root in
// the model folder dir are given back to this user by `chown -R` in a
// short-lived container of the model's image (present locally; nothing is
// pulled), so that rm and pull --update can remove or replace the folder.
func (f *Factory) reclaim(ctx context.Context, dir, image string) error {
	if image == "" {
		return errors.New("the model's Docker image is unknown")
	}
	d, err := f.Docker(ctx)
	if err != nil {
		return err
	}
	c, ok := d.(chowner)
	if !ok {
		return errors.New("this Docker client cannot run a container")
	}
	// A remote engine would mount a folder of its own machine, not this one.
	if ep, ok := d.(interface{ Endpoint() dockerrun.Endpoint }); !ok || ep.Endpoint().Remote() {
		return errors.New("the Docker engine is not on this machine")
	}
	f.IO.Notef("%s holds files a container wrote as root; giving them back to you through a container of %s", dir, image)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return c.Chown(cctx, image, dir, os.Getuid(), os.Getgid())
}
