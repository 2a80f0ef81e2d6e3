package dockerrun

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// LabelGPUs records a container's GPU request (Docker's --gpus syntax).
const LabelGPUs = "ai.modelhub.gpus"

// GPURequest is a request for NVIDIA GPUs in Docker's --gpus syntax: "all",
// a count ("2"), or device IDs or UUIDs ("device=0,2", quoted in the CLI as
// '"device=0,2"').
type GPURequest struct {
	Count   int      // -1 for all; 0 when Devices are named
	Devices []string // IDs or UUIDs
}

// ParseGPUs parses Docker's --gpus value. Capabilities and drivers other
// than NVIDIA's gpu are not offered: a model asks for GPUs, nothing else.
func ParseGPUs(s string) (GPURequest, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (GPURequest, error) {
		return GPURequest{}, fmt.Errorf("invalid --gpus %q: %s; use all, a number of GPUs (e.g. 2) or device=ID[,ID...] (e.g. device=0,2)", s, why)
	}
	switch {
	case s == "":
		return bad("empty")
	case strings.EqualFold(s, "all"):
		return GPURequest{Count: -1}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return bad("the number of GPUs must be at least 1")
		}
		return GPURequest{Count: n}, nil
	}
	// device=0,2 is one CSV field in Docker's syntax once unquoted.
	r := csv.NewReader(strings.NewReader(strings.Trim(s, `'`)))
	fields, err := r.Read()
	if err != nil || len(fields) == 0 {
		return bad("not all, a number or device=...")
	}
	key, val, ok := strings.Cut(fields[0], "=")
	if !ok || key != "device" {
		return bad("not all, a number or device=...")
	}
	devices := append(strings.Split(val, ","), fields[1:]...)
	var g GPURequest
	for _, d := range devices {
		d = strings.TrimSpace(d)
		if d == "" {
			return bad("an empty device ID")
		}
		if strings.ContainsAny(d, " =\"'") {
			return bad("device " + strconv.Quote(d) + " is not an ID or UUID")
		}
		g.Devices = append(g.Devices, d)
	}
	return g, nil
}

// String is the request in Docker's syntax, as ps shows it.
func (g GPURequest) String() string {
	switch {
	case len(g.Devices) > 0:
		return "device=" + strings.Join(g.Devices, ",")
	case g.Count < 0:
		return "all"
	default:
		return strconv.Itoa(g.Count)
	}
}

func (g GPURequest) deviceRequest() container.DeviceRequest {
	return container.DeviceRequest{Count: g.Count, DeviceIDs: g.Devices, Capabilities: [][]string{{"gpu"}}}
}
