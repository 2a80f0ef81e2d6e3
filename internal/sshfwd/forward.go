// Package sshfwd forwards ports of this machine's loopback to ports on an ssh
// server's loopback, through the system ssh, as the Docker CLI reaches an
// ssh:// engine: the user's keys, agent, ~/.ssh/config and known_hosts apply
// unchanged.
//
// Each accepted connection runs `ssh -W 127.0.0.1:PORT host`, so the
// listener is ours (its port is known before anything is printed and it
// closes with the process) and a connection that fails does not take the
// others down.
package sshfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/docker/cli/cli/connhelper/commandconn"
	"github.com/docker/cli/cli/connhelper/ssh"
)

// Port forwards Local (on 127.0.0.1 of this machine; 0 picks a free port) to
// Remote (on 127.0.0.1 of the ssh server).
type Port struct {
	Local  int
	Remote int
}

// Forwarder holds the listeners of a set of forwarded ports.
type Forwarder struct {
	ports []Port
	lns   []net.Listener
	wg    sync.WaitGroup
	once  sync.Once
	// Errors receives failures of single connections (e.g. the server
	// refused the port); never blocks: extra errors are dropped.
	Errors chan error
}

// connectTimeout bounds the ssh connection of each forwarded connection.
const connectTimeout = 30 * time.Second

// Start listens on each local port and forwards it until Close. sshURL is
// the engine's ssh://[user@]host[:port].
func Start(sshURL string, ports []Port) (*Forwarder, error) {
	spec, err := ssh.ParseURL(sshURL)
	if err != nil {
		return nil, fmt.Errorf("forward ports to %s: %w", sshURL, err)
	}
	f := &Forwarder{Errors: make(chan error, 8)}
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Local)))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("forward port %d of this machine: %w; pass another port (--api-port, --jupyter-port)", p.Local, err)
		}
		p.Local = ln.Addr().(*net.TCPAddr).Port
		f.ports = append(f.ports, p)
		f.lns = append(f.lns, ln)
		args := sshArgs(spec, p.Remote)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(ln, args)
		}()
	}
	return f, nil
}

// sshArgs is the command line of one forwarded connection.
func sshArgs(spec *ssh.Spec, remote int) []string {
	var args []string
	if spec.User != "" {
		args = append(args, "-l", spec.User)
	}
	if spec.Port != "" {
		args = append(args, "-p", spec.Port)
	}
	args = append(args,
		"-o", "ConnectTimeout="+strconv.Itoa(int(connectTimeout/time.Second)),
		"-o", "BatchMode=yes", // never prompt: there is no terminal behind us
		"-T", "-W", "127.0.0.1:"+strconv.Itoa(remote),
		"--", spec.Host)
	return args
}

// Ports are the forwarded ports, with the local ports picked.
func (f *Forwarder) Ports() []Port { return append([]Port(nil), f.ports...) }

// Close stops listening and ends the forwarded connections.
func (f *Forwarder) Close() error {
	f.once.Do(func() {
		for _, ln := range f.lns {
			ln.Close()
		}
	})
	f.wg.Wait()
	return nil
}

func (f *Forwarder) serve(ln net.Listener, args []string) {
	var conns sync.WaitGroup
	defer conns.Wait()
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	defer func() {
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		open[c] = struct{}{}
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer func() {
				mu.Lock()
				delete(open, c)
				mu.Unlock()
			}()
			if err := pipe(c, args); err != nil {
				select {
				case f.Errors <- err:
				default:
				}
			}
		}()
	}
}

// pipe joins a local connection to a new `ssh -W` process.
func pipe(local net.Conn, args []string) error {
	defer local.Close()
	remote, err := commandconn.New(context.Background(), "ssh", args...)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	defer remote.Close()
	done := make(chan error, 2)
	go func() {
		_, err := io.Copy(remote, local)
		if cw, ok := remote.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- err
	}()
	go func() {
		_, err := io.Copy(local, remote)
		if cw, ok := local.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- err
	}()
	err = <-done
	if err2 := <-done; err == nil {
		err = err2
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("forwarded connection: %w", err)
	}
	return nil
}
