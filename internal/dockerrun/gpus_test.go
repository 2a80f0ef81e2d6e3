package dockerrun

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseGPUs(t *testing.T) {
	good := map[string]GPURequest{
		"all":                {Count: -1},
		"ALL":                {Count: -1},
		"2":                  {Count: 2},
		"device=0":           {Devices: []string{"0"}},
		"device=0,2":         {Devices: []string{"0", "2"}},
		`"device=0,2"`:       {Devices: []string{"0", "2"}},
		"'\"device=1,3\"'":   {Devices: []string{"1", "3"}},
		"device=GPU-3a23c6b": {Devices: []string{"GPU-3a23c6b"}},
	}
	for in, want := range good {
		got, err := ParseGPUs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseGPUs(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "some", "device=", "device=0,,2", "driver=nvidia", "count=2", "device=a b"} {
		_, err := ParseGPUs(in)
		if err == nil || !strings.Contains(err.Error(), "device=ID") {
			t.Errorf("ParseGPUs(%q): %v, want an error naming the syntax", in, err)
		}
	}
	if s := (GPURequest{Devices: []string{"0", "2"}}).String(); s != "device=0,2" {
		t.Errorf("String() = %q", s)
	}
}

func TestContainerConfigGPUs(t *testing.T) {
	s := Spec{Name: "n", Image: "i", ContribSrc: "/x", GPUs: "device=0,2"}
	_, hc, _, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(hc.DeviceRequests) != 1 || !reflect.DeepEqual(hc.DeviceRequests[0].DeviceIDs, []string{"0", "2"}) || hc.DeviceRequests[0].Count != 0 {
		t.Errorf("DeviceRequests = %+v", hc.DeviceRequests)
	}
	cfg, _, _, _ := containerConfig(s)
	if cfg.Labels[LabelGPUs] != "device=0,2" {
		t.Errorf("label = %q", cfg.Labels[LabelGPUs])
	}
	s.GPUs = "nonsense"
	if _, _, _, err := containerConfig(s); err == nil {
		t.Error("a bad GPUs value was accepted")
	}
	s = Spec{Name: "n", Image: "i", ContribVolume: "vol"}
	_, hc, _, err = containerConfig(s)
	if err != nil || len(hc.Mounts) != 1 || hc.Mounts[0].Type != "volume" || hc.Mounts[0].Source != "vol" {
		t.Errorf("volume mount: %+v, %v", hc.Mounts, err)
	}
}

func TestGPUStartError(t *testing.T) {
	ep := Endpoint{Host: "ssh://me@gpu"}
	engine := errors.New(`Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'
nvidia-container-cli: device error: 5: unknown device: unknown`)
	err := gpuStartError(engine, ep)
	if !errors.Is(err, ErrNoSuchGPU) || !strings.Contains(err.Error(), "ssh://me@gpu") || !strings.Contains(err.Error(), "nvidia-smi -L") {
		t.Errorf("err = %v", err)
	}
	if gpuStartError(errors.New("no such image"), ep) != nil {
		t.Error("an unrelated error was taken for a GPU one")
	}
}
