// Package groupcommit coalesces concurrent publishes into shared transactions (group commit),
// for the stores: one commit, and one wait for the log to reach the disk, for many events.
package groupcommit

import (
	"context"
	"slices"
	"sync"

	"github.com/hookd/hookd"
)

// Flush publishes events in one transaction and returns them in order, as
// hookd.Store.EventPublishBatch does.
type Flush func(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error)

// Committer coalesces concurrent EventPublish calls into shared transactions: each commit
// waits for its log flush (PostgreSQL's synchronous_commit, SQLite's WAL write), so N
// publishers committing one event each would pay N flushes where one would do.
//
// A call queues its event. When fewer than max flushes are running, the call leads one at
// once: it takes the whole queue and publishes it in one statement, so a lone call adds no
// latency. Calls that arrive while max flushes run wait in the queue; a leader that finishes
// hands the lead to the first of them, which takes everything queued by then. If the shared
// statement fails, each of its events is published alone, so that one bad event fails only
// its own call.
type Committer struct {
	flush Flush
	max   int // flushes at once
	batch int // events per flush, at most

	mu    sync.Mutex
	queue []*publishCall
	leads int // flushes running, and leads handed on but not yet taken
}

// New returns a committer that publishes with flush, at most max flushes at once and batch
// events per flush.
func New(max, batch int, flush Flush) *Committer {
	return &Committer{flush: flush, max: max, batch: batch}
}

// Pending reports the flushes running (or handed to a waiting call) and the calls queued,
// for tests.
func (c *Committer) Pending() (running, queued int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leads, len(c.queue)
}

// publishCall is one Publish waiting for its flush.
type publishCall struct {
	p    *hookd.EventPublishParams
	out  *hookd.Published
	err  error
	lead chan struct{} // receives the lead: take the queue and flush it (capacity 1)
	led  bool          // a lead was sent to lead and not taken yet; under Committer.mu
	done chan struct{} // closed once out or err is set
}

// Publish publishes p, alone or with the calls that come at the same time. A call that gives
// up while queued leaves with ctx's error and writes nothing; once in a flush, it gets the
// flush's outcome.
func (c *Committer) Publish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Published, error) {
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
func (c *Committer) run(ctx context.Context, leader *publishCall) {
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
func (c *Committer) flushCalls(ctx context.Context, calls []*publishCall) {
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
func (c *Committer) handOn() {
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
func (c *Committer) dropLead(call *publishCall) {
	if !call.led {
		return
	}
	<-call.lead
	call.led = false
	c.leads--
	c.handOn()
}
