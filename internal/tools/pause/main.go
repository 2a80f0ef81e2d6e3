//go:build linux

// Command pause is the pod sandbox's process in the kube-conformance suite's
// cluster (scripts/kube-cluster.sh builds it into a FROM scratch image, so no
// registry is needed): it holds the pod's namespaces, reaps the zombies it
// inherits as PID 1, and exits 0 on SIGINT or SIGTERM, as Kubernetes' own
// pause container does.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
