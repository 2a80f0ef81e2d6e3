package dockerrun

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
)

func TestGenericConfig(t *testing.T) {
	s := ContainerSpec{
		Name: "pod-fetch", Image: "modelhub:1", Cmd: []string{"pull", "x"}, Env: []string{"A=1"}, User: "65532:65532",
		GroupAdd: []string{"65532"}, HostNetwork: true, Ports: []Port{{Container: 80, Host: 8080}},
		Mounts:         []Mount{{Volume: "v", Target: "/models"}, {HostPath: "/var/lib/docker/volumes/v/_data/x", Target: "/contrib_src", ReadOnly: true}},
		ReadOnlyRootfs: true, NoNewPrivileges: true, CapDrop: []string{"ALL"},
	}
	cfg, hc, err := genericConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entrypoint != nil || strings.Join(cfg.Cmd, " ") != "pull x" || cfg.User != "65532:65532" || cfg.Env[0] != "A=1" {
		t.Errorf("config %+v", cfg)
	}
	if hc.NetworkMode != "host" || len(hc.PortBindings) != 0 || !hc.ReadonlyRootfs || hc.SecurityOpt[0] != "no-new-privileges" || hc.CapDrop[0] != "ALL" {
		t.Errorf("host config %+v: host network publishes no ports", hc)
	}
	if len(hc.Mounts) != 2 || hc.Mounts[0].Type != mount.TypeVolume || hc.Mounts[1].Type != mount.TypeBind || !hc.Mounts[1].ReadOnly {
		t.Errorf("mounts %+v", hc.Mounts)
	}
	s.HostNetwork, s.HostIP = false, "127.0.0.1"
	_, hc, _ = genericConfig(s)
	if b := hc.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "8080" || hc.NetworkMode != "" {
		t.Errorf("ports %+v network %q", hc.PortBindings, hc.NetworkMode)
	}
	for _, bad := range []ContainerSpec{
		{Image: "x"},
		{Name: "x", Image: "x", Mounts: []Mount{{Target: "/a"}}},
		{Name: "x", Image: "x", Mounts: []Mount{{Volume: "v", HostPath: "/h", Target: "/a"}}},
		{Name: "x", Image: "x", Mounts: []Mount{{Volume: "v"}}},
	} {
		if _, _, err := genericConfig(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
