package launch

import (
	"fmt"
	"net"
	"strconv"
)

// portPicker chooses host ports for one container.
type portPicker struct {
	host  string
	span  int
	taken map[int]bool // chosen already for this container
	ev    Events
}

// pick returns the host port to bind: want if free; for a port that is not
// fixed the next free one (with a note); for a fixed one an error; for 0
// any free port. flag names the option that sets the port.
func (p *portPicker) pick(want int, fixed bool, flag string) (int, error) {
	if want == 0 {
		for {
			port, err := FreePort(p.host)
			if err != nil {
				return 0, err
			}
			if !p.taken[port] {
				p.taken[port] = true
				return port, nil
			}
		}
	}
	span := p.span
	if span <= 0 {
		span = DefaultPortSpan
	}
	for port := want; port < want+span && port <= 65535; port++ {
		if p.taken[port] {
			continue
		}
		if portFree(p.host, port) {
			if port != want {
				p.ev.note("port %d is busy; using %d instead (choose one with %s)", want, port, flag)
			}
			p.taken[port] = true
			return port, nil
		}
		if fixed {
			return 0, fmt.Errorf("port %d on %s is already in use (%s): stop what uses it or choose another port with %s", want, p.host, flag, flag)
		}
	}
	return 0, fmt.Errorf("no free port on %s from %d to %d: free one or choose one with %s", p.host, want, want+span-1, flag)
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// FreePort returns a TCP port on host that nothing listens on now.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
