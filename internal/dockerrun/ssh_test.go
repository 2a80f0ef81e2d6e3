package dockerrun_test

import (
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// An ssh:// engine is reached through the system ssh, as the Docker CLI does.
func TestConnectOverSSH(t *testing.T) {
	testutil.Docker(t) // the daemon behind the sshd must answer
	sshd := testutil.StartSSHD(t)
	t.Setenv("PATH", sshd.PathWith())
	ep := dockerrun.Endpoint{Context: "default", Host: sshd.URL}
	if !ep.Remote() || ep.Kind() != dockerrun.EngineSSH {
		t.Fatalf("%s: kind %v, want a remote ssh engine", sshd.URL, ep.Kind())
	}
	c, err := dockerrun.ConnectTo(t.Context(), ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Info(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(t.Context(), true); err != nil {
		t.Fatal(err)
	}
}
