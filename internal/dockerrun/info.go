package dockerrun

import (
	"context"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/system"
)

// EngineInfo is what the launcher needs to know about the engine.
type EngineInfo struct {
	ServerVersion string
	APIVersion    string
	OS            string // GOOS form: linux, windows
	Arch          string // GOARCH form: amd64, arm64
	Runtimes      []string
	NVIDIA        bool // an NVIDIA runtime or NVIDIA CDI devices are available
	// GPUs counts the NVIDIA GPUs the engine lists as CDI devices
	// (nvidia.com/gpu=N); 0 when it lists none (a runtime-only setup does not say).
	GPUs int
	// CPUs and Memory are the engine machine's cores and memory (bytes).
	CPUs   int
	Memory int64
}

// Platform is the engine's own platform, e.g. linux/amd64.
func (e EngineInfo) Platform() string { return e.OS + "/" + e.Arch }

// Info asks the engine about itself.
func (c *Client) Info(ctx context.Context) (EngineInfo, error) {
	info, err := c.api.Info(ctx)
	if err != nil {
		return EngineInfo{}, c.wrap(err)
	}
	return engineInfo(info, c.api.ClientVersion()), nil
}

func engineInfo(info system.Info, apiVersion string) EngineInfo {
	e := EngineInfo{
		ServerVersion: info.ServerVersion,
		APIVersion:    apiVersion,
		OS:            info.OSType,
		Arch:          NormalizeArch(info.Architecture),
	}
	for name := range info.Runtimes {
		e.Runtimes = append(e.Runtimes, name)
	}
	sort.Strings(e.Runtimes)
	e.NVIDIA = hasNVIDIA(info)
	e.CPUs, e.Memory = info.NCPU, info.MemTotal
	for _, d := range info.DiscoveredDevices {
		if id, ok := strings.CutPrefix(d.ID, "nvidia.com/gpu="); ok && id != "all" {
			e.GPUs++
		}
	}
	return e
}

// hasNVIDIA reports whether the engine can honour a GPU device request: an
// "nvidia" runtime is registered (NVIDIA Container Toolkit) or CDI discovered
// NVIDIA devices.
func hasNVIDIA(info system.Info) bool {
	for name := range info.Runtimes {
		if strings.Contains(strings.ToLower(name), "nvidia") {
			return true
		}
	}
	if strings.Contains(strings.ToLower(info.DefaultRuntime), "nvidia") {
		return true
	}
	for _, d := range info.DiscoveredDevices {
		if strings.HasPrefix(d.ID, "nvidia.com/") {
			return true
		}
	}
	return false
}

// NormalizeArch maps uname-style architectures to GOARCH names.
func NormalizeArch(a string) string {
	switch strings.ToLower(a) {
	case "x86_64", "x86-64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "armhf", "arm":
		return "arm"
	case "i386", "i686", "386":
		return "386"
	}
	return a
}
