package sqlite

import (
	"context"
	"fmt"
	"sync"

	"github.com/hookd/hookd"
)

// maxPublishGroup is the most events one group commit writes: enough to spread a commit over
// many publishers, few enough that claims and records queued on the writer wait little.
const maxPublishGroup = 128

// publisher coalesces concurrent EventPublish calls into shared write transactions (group
// commit). A commit writes every page the transaction changed to the WAL, and the pages an
// event touches (the right edge of each table and index) are mostly the same for the next
// event: one commit for many events writes them once.
//
// There is no timer and no committer goroutine. A caller that finds no transaction running
// leads: it publishes its own event with whatever calls are queued at that moment, so a lone
// caller waits for nothing. Calls that arrive meanwhile queue; when the leader is done it
// hands the lead to the oldest queued call, which takes the queue as its group.
type publisher struct {
	mu      sync.Mutex
	queue   []*publishCall
	leading bool // a call is running a group
}

// publishCall is one EventPublish waiting for, or in, a group.
type publishCall struct {
	p     *hookd.EventPublishParams
	out   *hookd.Published
	err   error
	taken bool          // in a group (or handed the lead): the call can no longer leave
	done  chan struct{} // closed when out or err is set
	lead  chan struct{} // closed when the call must run the next group
}

// EventPublish stores an event and one delivery, due now, per matching enabled webhook, in one
// transaction (shared with concurrent calls, see publisher). The deliveries come back in webhook
// id order.
func (s *Store) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	if err := validatePublish(p); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	c := &publishCall{p: p, done: make(chan struct{}), lead: make(chan struct{})}
	pub := &s.pub
	pub.mu.Lock()
	if pub.leading {
		pub.queue = append(pub.queue, c)
		pub.mu.Unlock()
		if err := s.awaitPublish(ctx, c); err != nil {
			return nil, nil, fmt.Errorf("publish event: %w", err)
		}
	} else {
		pub.leading, c.taken = true, true
		pub.mu.Unlock()
		s.leadPublish(ctx, c)
	}
	if c.err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", c.err)
	}
	return c.out.Event, c.out.Deliveries, nil
}

// awaitPublish waits until c's group is written, leading it when handed the lead. A caller
// that gives up before its call is taken leaves the queue and gets ctx's error; once taken,
// the call runs to the end (its event may already be written).
func (s *Store) awaitPublish(ctx context.Context, c *publishCall) error {
	select {
	case <-c.done:
		return nil
	case <-c.lead:
		s.leadPublish(ctx, c)
		return nil
	case <-ctx.Done():
	}
	pub := &s.pub
	pub.mu.Lock()
	if !c.taken {
		for i, q := range pub.queue {
			if q == c {
				pub.queue = append(pub.queue[:i], pub.queue[i+1:]...)
				break
			}
		}
		pub.mu.Unlock()
		return ctx.Err()
	}
	pub.mu.Unlock()
	select {
	case <-c.done:
	case <-c.lead:
		s.leadPublish(ctx, c)
	}
	return nil
}

// leadPublish writes c and the calls queued now as one group, then hands the lead to the
// oldest call queued meanwhile, or ends the lead.
func (s *Store) leadPublish(ctx context.Context, c *publishCall) {
	pub := &s.pub
	pub.mu.Lock()
	n := min(len(pub.queue), maxPublishGroup-1)
	group := append([]*publishCall{c}, pub.queue[:n]...)
	pub.queue = pub.queue[n:]
	for _, q := range group {
		q.taken = true
	}
	pub.mu.Unlock()

	// The group holds other callers' events: one caller giving up must not fail them.
	s.publishGroup(context.WithoutCancel(ctx), group)

	pub.mu.Lock()
	if len(pub.queue) > 0 {
		next := pub.queue[0]
		pub.queue = pub.queue[1:]
		next.taken = true
		close(next.lead)
	} else {
		pub.leading = false
	}
	pub.mu.Unlock()
}

// publishGroup publishes every call of group in one transaction. When that fails, each call
// is retried in its own transaction, so that a failure is reported to its own caller only and
// no event is half written.
func (s *Store) publishGroup(ctx context.Context, group []*publishCall) {
	ps := make([]*hookd.EventPublishParams, len(group))
	for i, c := range group {
		ps[i] = c.p
	}
	out, err := s.publishTx(ctx, ps)
	for i, c := range group {
		if err == nil {
			c.out = out[i]
		} else if len(group) == 1 {
			c.err = err
		} else if one, err := s.publishTx(ctx, ps[i:i+1]); err != nil {
			c.err = err
		} else {
			c.out = one[0]
		}
		close(c.done)
	}
}
