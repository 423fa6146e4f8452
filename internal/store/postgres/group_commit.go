package postgres

import (
	"context"
	"slices"
	"sync"

	"github.com/hookd/hookd"
)

// committer coalesces concurrent EventPublish calls into shared transactions (group commit):
// with synchronous_commit each transaction waits for its WAL flush, so N publishers committing
// one event each would wait for N flushes where one would do.
//
// A call queues its event. When fewer than max flushes are running, the call leads one at
// once: it takes the whole queue and publishes it in one statement, so a lone call adds no
// latency. Calls that arrive while max flushes run wait in the queue; a leader that finishes
// hands the lead to the first of them, which takes everything queued by then. If the shared
// statement fails, each of its events is published alone, so that one bad event fails only
// its own call.
type committer struct {
	flush func(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error)
	max   int // flushes at once
	batch int // events per flush, at most

	mu    sync.Mutex
	queue []*publishCall
	leads int // flushes running, and leads handed on but not yet taken
}

// newCommitter returns a committer that publishes with flush, max flushes at once.
func newCommitter(max int, flush func(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error)) *committer {
	return &committer{flush: flush, max: max, batch: hookd.MaxPublishBatch}
}

// publishCall is one EventPublish waiting for its flush.
type publishCall struct {
	p    *hookd.EventPublishParams
	out  *hookd.Published
	err  error
	lead chan struct{} // receives the lead: take the queue and flush it (capacity 1)
	led  bool          // a lead was sent to lead and not taken yet; under committer.mu
	done chan struct{} // closed once out or err is set
}

// publish publishes p, alone or with the calls that come at the same time.
func (c *committer) publish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Published, error) {
	call := &publishCall{p: p, lead: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	if c.leads < c.max {
		c.leads++
		call.led = true
		call.lead <- struct{}{}
	}
	c.mu.Unlock()
	for {
		select {
		case <-call.done:
			c.mu.Lock()
			c.dropLead(call)
			c.mu.Unlock()
			return call.out, call.err
		case <-call.lead:
			c.run(ctx, call)
		case <-ctx.Done():
			c.mu.Lock()
			i := slices.Index(c.queue, call)
			if i >= 0 {
				// Not taken by a flush yet: leave without a trace.
				c.queue = slices.Delete(c.queue, i, i+1)
				c.dropLead(call)
				c.mu.Unlock()
				return nil, ctx.Err()
			}
			c.mu.Unlock()
			// A flush has it: its outcome is this call's, whatever the context says.
			<-call.done
			c.mu.Lock()
			c.dropLead(call)
			c.mu.Unlock()
			return call.out, call.err
		}
	}
}

// run flushes what is queued, as the leader call, then hands the lead on.
func (c *committer) run(ctx context.Context, leader *publishCall) {
	c.mu.Lock()
	leader.led = false
	n := min(len(c.queue), c.batch)
	calls := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	c.mu.Unlock()
	if len(calls) > 0 {
		// The flush carries other calls too: the leader's cancellation must not fail them.
		c.flushCalls(context.WithoutCancel(ctx), calls)
	}
	c.mu.Lock()
	c.leads--
	c.handOn()
	c.mu.Unlock()
}

// flushCalls publishes calls together, or each alone when together fails.
func (c *committer) flushCalls(ctx context.Context, calls []*publishCall) {
	ps := make([]*hookd.EventPublishParams, len(calls))
	for i, call := range calls {
		ps[i] = call.p
	}
	out, err := c.flush(ctx, ps)
	if err != nil && len(calls) > 1 {
		for _, call := range calls {
			var one []*hookd.Published
			if one, call.err = c.flush(ctx, []*hookd.EventPublishParams{call.p}); call.err == nil {
				call.out = one[0]
			}
			close(call.done)
		}
		return
	}
	for i, call := range calls {
		if err != nil {
			call.err = err
		} else {
			call.out = out[i]
		}
		close(call.done)
	}
}

// handOn gives a lead to the first queued call that has none, when a flush may start. Call it
// with c.mu held.
func (c *committer) handOn() {
	if c.leads >= c.max {
		return
	}
	for _, call := range c.queue {
		if !call.led {
			c.leads++
			call.led = true
			call.lead <- struct{}{}
			return
		}
	}
}

// dropLead gives back a lead that call was handed but will not use (it is leaving), so that
// the queue is not left without a leader. Call it with c.mu held.
func (c *committer) dropLead(call *publishCall) {
	if !call.led {
		return
	}
	<-call.lead
	call.led = false
	c.leads--
	c.handOn()
}
