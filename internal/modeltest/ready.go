package modeltest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ReadyPoll is how often WaitReady asks the engine; tests may shrink it.
var ReadyPoll = 250 * time.Millisecond

// ErrNotReady is returned when the engine does not answer within the timeout.
var ErrNotReady = errors.New("the model did not become ready")

// WaitReady polls GET /api/get_config until it answers 200 or timeout passes. check, when
// not nil, is called before every poll; an error from it ends the wait (e.g. the
// container exited).
func WaitReady(ctx context.Context, client *http.Client, baseURL string, timeout time.Duration, check func(context.Context) error) error {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(baseURL, "/") + "/api/get_config"
	var last error
	for {
		if check != nil {
			if err := check(ctx); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("get_config answered %s", resp.Status)
		} else if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if parent := context.Cause(ctx); !errors.Is(parent, context.DeadlineExceeded) {
				return parent
			}
			return fmt.Errorf("%w within %s (last: %v): raise --timeout or look at the container's logs", ErrNotReady, timeout, last)
		case <-time.After(ReadyPoll):
		}
	}
}
