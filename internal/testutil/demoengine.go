package testutil

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
)

// StartEngine runs image as a model container in API mode with contribSrc
// mounted, on a free port of 127.0.0.1, waits until its REST API answers and
// returns the API's base URL. The container is removed when the test ends.
func StartEngine(t testing.TB, c *dockerrun.Client, image, contribSrc string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port := FreePort(t)
	name := UniqueName("modelhub-test")
	api := fmt.Sprintf("http://127.0.0.1:%d", port)
	id, err := c.Create(ctx, dockerrun.Spec{
		Name: name, Image: image, Model: name, Mode: dockerrun.ModeAPI,
		ContribSrc: contribSrc, HostIP: "127.0.0.1",
		Ports:  []dockerrun.Port{{Container: 80, Host: port}},
		APIURL: api,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Kill(ctx, id)
		_ = c.Remove(ctx, id)
	})
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	WaitHTTP(t, engine.ReadyURL(api), 90*time.Second)
	return api
}
