package predict

import (
	"context"
	"errors"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Engine is one replica of the model a batch is sent to: its REST API and
// where it opens a case's local files.
type Engine struct {
	Client *engine.Client
	Copier Copier
}

// Recovery is what Runner.Down says about an engine after an input failed
// on it without an answer (the connection refused or cut, a copy into its
// container failed).
type Recovery struct {
	// Up: the engine still answers; the input failed by itself and is
	// recorded as failed.
	Up bool
	// Next is the engine that takes the slot's place (a restarted replica);
	// nil with Up false: the slot is dropped. Either way the input is tried
	// again, on whichever engine is free first.
	Next *Engine
}

// MaxAttempts is how many engines an input is tried on when engines fail
// under it (an input that brings every replica down is not tried forever).
const MaxAttempts = 3

// ErrNoEngine: every replica was dropped before the batch ended.
var ErrNoEngine = errors.New("no replica of the model is left to answer (each one stopped and could not be restarted; see the notes above)")

// feed sends every pending input to the engines and sends each result on
// results; it returns when all are done or ctx ends. Each engine has Jobs
// workers taking inputs from one queue, so a fast replica takes more. With
// Down, an input that failed on an engine that no longer answers goes back
// to the queue (up to MaxAttempts) and the engine is replaced or dropped;
// the inputs left when every engine is dropped fail with ErrNoEngine.
func (r *Runner) feed(ctx context.Context, p *Plan, results chan<- *Result) {
	engines := r.Engines
	if len(engines) == 0 {
		engines = []Engine{{Client: r.Client, Copier: r.Copier}}
	}
	q := newQueue(len(p.Pending))
	jobs := max(r.Jobs, 1)
	attempts := make([]int, len(p.Pending))
	send := func(res *Result) bool {
		select {
		case results <- res:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	for slot, e := range engines {
		// the slot's engine, replaced under its workers when it is restarted
		cur := &slotEngine{e: e}
		for range min(jobs, max(len(p.Pending), 1)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i, ok := q.take(ctx)
					if !ok {
						return
					}
					e, gen, alive := cur.get()
					if !alive { // dropped: another slot takes the input
						q.put(i)
						return
					}
					wr := *r
					wr.Client, wr.Copier = e.Client, e.Copier
					res := wr.one(ctx, &p.Pending[i], p.hashes[i], p.folders[i])
					if res == nil {
						return // interrupted
					}
					if res.Status != StatusOK && r.Down != nil && engineMayBeDown(res.cause) {
						down := func() Recovery { return r.Down(ctx, slot, res.cause) }
						if rec := cur.recover(gen, down); !rec.Up && ctx.Err() == nil {
							attempts[i]++ // one worker holds i at a time
							if attempts[i] < MaxAttempts {
								q.put(i)
								continue
							}
						}
					}
					q.done()
					if !send(res) {
						return
					}
				}
			}()
		}
	}
	wg.Wait() // all inputs done, ctx ended, or every slot dropped
	for _, i := range q.rest() {
		res := &Result{Input: p.Pending[i].Name, Source: p.Pending[i].Source(), SHA256: p.hashes[i], Run: r.RunID,
			Status: StatusFailed, Error: ErrNoEngine.Error(), Time: r.now().UTC()}
		if r.OutDir != "" {
			res.Folder = p.folders[i]
			if res.Folder == "" {
				res.Folder = ItemFolder(&p.Pending[i])
			}
		}
		if ctx.Err() != nil || !send(res) {
			return
		}
	}
}

// engineMayBeDown: err did not come from the engine's answer (a refusal,
// an HTTP error, an answer too large): the engine may be gone.
func engineMayBeDown(err error) bool {
	if err == nil {
		return false
	}
	var ee *engine.EngineError
	var he *engine.HTTPError
	return !errors.As(err, &ee) && !errors.As(err, &he) && !errors.Is(err, engine.ErrAnswerTooLarge)
}

// slotEngine is one slot's engine, shared by its workers: the first worker
// that finds it down asks Down once; the others, failing on the same
// engine, take the answer.
type slotEngine struct {
	mu      sync.Mutex
	e       Engine
	gen     int // bumped each time the engine is replaced
	dropped bool
}

func (s *slotEngine) get() (Engine, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.e, s.gen, !s.dropped
}

// recover asks down about the engine of generation gen, once per
// generation: a worker failing on an engine another worker already found
// down gets Up false (its input is tried again) without asking.
func (s *slotEngine) recover(gen int, down func() Recovery) Recovery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || s.dropped {
		return Recovery{}
	}
	rec := down()
	switch {
	case rec.Up:
	case rec.Next != nil:
		s.e = *rec.Next
		s.gen++
	default:
		s.dropped = true
	}
	return rec
}

// queue is the batch's inputs (indexes into Plan.Pending) not yet taken,
// with inputs put back for another try.
type queue struct {
	mu          sync.Mutex
	cond        *sync.Cond
	items       []int
	outstanding int // inputs not done: queued or being tried
}

func newQueue(n int) *queue {
	q := &queue{outstanding: n}
	q.cond = sync.NewCond(&q.mu)
	for i := range n {
		q.items = append(q.items, i)
	}
	return q
}

// take is the next input; false when all are done, the queue is closed or
// ctx ended.
func (q *queue) take(ctx context.Context) (int, bool) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && q.outstanding > 0 && ctx.Err() == nil {
		q.cond.Wait()
	}
	if len(q.items) == 0 || ctx.Err() != nil {
		return 0, false
	}
	i := q.items[0]
	q.items = q.items[1:]
	return i, true
}

// put gives an input back for another try.
func (q *queue) put(i int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, i)
	q.cond.Broadcast()
}

// done: an input taken is finished.
func (q *queue) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.outstanding--
	q.cond.Broadcast()
}

// rest are the inputs still queued.
func (q *queue) rest() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]int(nil), q.items...)
}
