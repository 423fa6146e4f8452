package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// Per-webhook fairness. The store claims the oldest due deliveries whatever their webhook, so
// the worker itself keeps one receiver from taking every sender: a webhook has at most
// Config.PerWebhookInflight attempts in flight. A claim whose webhook is at its cap waits in
// that webhook's queue in memory, without a sender (it still counts against Concurrency, which
// bounds memory). When the webhook is stalled, at its cap with no attempt ending for
// stallAfter, its waiting claims are parked instead (park.go): they give back their slot and
// stay leased, so that the store hands them out again when the lease ends, without an attempt
// counted. A webhook once stalled stays suspect, its claims over the cap parked at once, until
// one of its attempts ends quickly again; its parked claims are then released at once.
//
// Releasing those claims would not do: a released delivery keeps its place at the head of the
// due order and would be claimed again at once, ahead of every healthy receiver's deliveries.
// A store method that claims past webhooks at their cap would remove the need to park.

// hookLoad is one webhook's attempts in flight on this worker.
type hookLoad struct {
	active   int       // attempts being sent
	progress time.Time // when the last attempt ended, or the first of a busy spell began
}

// loads counts attempts in flight per webhook. The dispatcher starts attempts, the senders
// end them, hence the lock.
type loads struct {
	log        *slog.Logger
	mu         sync.Mutex
	limit      int
	stallAfter time.Duration
	hooks      map[int64]*hookLoad
	suspect    map[int64]bool // webhooks seen stalled and not answering quickly since
}

func newLoads(limit int, stallAfter time.Duration, log *slog.Logger) *loads {
	return &loads{log: log, limit: limit, stallAfter: stallAfter, hooks: map[int64]*hookLoad{}, suspect: map[int64]bool{}}
}

// tryStart takes a place for an attempt to webhook id, unless the webhook is at its cap.
func (l *loads) tryStart(id int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hooks[id]
	if h == nil {
		h = &hookLoad{}
		l.hooks[id] = h
	}
	if h.active >= l.limit {
		return false
	}
	if h.active == 0 {
		h.progress = now
	}
	h.active++
	return true
}

// finish gives back the place of an attempt to webhook id that ended after took.
func (l *loads) finish(id int64, now time.Time, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if took < l.stallAfter {
		delete(l.suspect, id)
	}
	h := l.hooks[id]
	if h == nil {
		return
	}
	h.active--
	h.progress = now
	if h.active <= 0 {
		delete(l.hooks, id)
	}
}

// stalled reports whether webhook id is at its cap and either suspect or without an attempt
// ending for stallAfter (which makes it suspect); when it is not, wait says how long until it
// would be, 0 when it is below its cap.
func (l *loads) stalled(id int64, now time.Time) (stalled bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hooks[id]
	if h == nil || h.active < l.limit {
		return false, 0
	}
	if l.suspect[id] || now.Sub(h.progress) >= l.stallAfter {
		if !l.suspect[id] {
			l.suspect[id] = true
			l.log.Info("webhook stalled: deliveries over its cap are parked until it answers quickly or their lease ends",
				"webhook_id", id, "in_flight", h.active, "no_answer_for", now.Sub(h.progress).Round(time.Millisecond).String())
		}
		return true, 0
	}
	return false, l.stallAfter - now.Sub(h.progress)
}

// isSuspect reports whether webhook id was seen stalled and has not answered quickly since.
func (l *loads) isSuspect(id int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suspect[id]
}

// inflight returns the attempts in flight to webhook id.
func (l *loads) inflight(id int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.hooks[id]; h != nil {
		return h.active
	}
	return 0
}

// waiting is a claim held until its webhook has a free place.
type waiting struct {
	claim    *hookd.Claim
	claimed  time.Time // about when its lease began
	deadline time.Time // start it by then or release it: its lease would end mid-attempt
}

// dispatcher claims due deliveries and hands them to the senders, webhook caps permitting.
// It runs in one goroutine, which alone touches queues.
type dispatcher struct {
	w       *Worker
	slots   chan struct{} // a token per claim held: waiting, sending, or being recorded
	jobs    chan<- *hookd.Claim
	results chan<- done
	queues  map[int64][]waiting
	parking *parking
}

// run claims into free slots until ctx ends, then releases the claims still waiting.
func (d *dispatcher) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			d.releaseWaiting()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordGrace)
			d.releaseParked(rctx, time.Now(), true)
			cancel()
			return
		case <-d.w.wake:
		case <-timer.C:
		}
		now := time.Now()
		d.startWaiting(now)
		d.parkStalled(now)
		d.releaseParked(ctx, now, false)
		wait := d.claim(ctx, now)
		timer.Reset(min(wait, d.nextCheck(time.Now())))
	}
}

// claim leases as many due deliveries as there are free slots and routes each one. It returns
// how long to wait before claiming again.
func (d *dispatcher) claim(ctx context.Context, now time.Time) time.Duration {
	wait := d.w.cfg.PollInterval
	free := cap(d.slots) - len(d.slots) // only this goroutine adds tokens: the sends below never block
	if free <= 0 {
		return wait
	}
	claims, err := d.w.store.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: free, Lease: d.w.cfg.Lease})
	switch {
	case err != nil && ctx.Err() != nil:
		return wait
	case err != nil:
		d.w.log.Error("claim deliveries", "err", err)
		return wait
	}
	parked := 0
	for _, c := range claims {
		d.parking.claimed(c)
		d.slots <- struct{}{}
		if !d.route(ctx, c, now) {
			<-d.slots
			d.parking.add(c, now, d.w.cfg.Lease, d.w.stallAfter)
			parked++
		}
	}
	switch {
	case parked > 0:
		// Look past the parked deliveries at once: behind them may wait healthy receivers'.
		d.w.log.Debug("deliveries parked: their webhook is stalled", "count", parked)
		return minWait
	case len(claims) < free:
		return d.w.untilNextDue(ctx, wait)
	}
	return wait
}

// route sends c, queues it behind its webhook's attempts, or, when the webhook is stalled,
// parks it and returns false (the caller gives its slot back).
func (d *dispatcher) route(ctx context.Context, c *hookd.Claim, now time.Time) bool {
	if ctx.Err() != nil {
		d.results <- done{release: c} // shutting down: not started, due again at once
		return true
	}
	id := c.Delivery.WebhookID
	if len(d.queues[id]) == 0 && d.w.loads.tryStart(id, now) {
		d.jobs <- c
		return true
	}
	if stalled, _ := d.w.loads.stalled(id, now); stalled {
		return false
	}
	d.queues[id] = append(d.queues[id], waiting{claim: c, claimed: now, deadline: now.Add(d.w.maxWait)})
	return true
}

// startWaiting sends the waiting claims whose webhook has room again, and releases those that
// waited so long that their lease would end during the attempt.
func (d *dispatcher) startWaiting(now time.Time) {
	for id, q := range d.queues {
		for len(q) > 0 {
			if now.After(q[0].deadline) {
				d.results <- done{release: q[0].claim}
			} else if d.w.loads.tryStart(id, now) {
				d.jobs <- q[0].claim
			} else {
				break
			}
			q = q[1:]
		}
		if len(q) == 0 {
			delete(d.queues, id)
		} else {
			d.queues[id] = q
		}
	}
}

// parkStalled parks the waiting claims of stalled webhooks, freeing their slots for others.
func (d *dispatcher) parkStalled(now time.Time) {
	for id, q := range d.queues {
		if stalled, _ := d.w.loads.stalled(id, now); !stalled {
			continue
		}
		for _, wt := range q {
			<-d.slots
			d.parking.add(wt.claim, wt.claimed, d.w.cfg.Lease, d.w.stallAfter)
		}
		delete(d.queues, id)
		d.w.log.Debug("deliveries parked: their webhook is stalled", "webhook_id", id, "count", len(q))
	}
}

// nextCheck returns how long until a waiting claim may need parking or releasing, or parked
// claims come due again.
func (d *dispatcher) nextCheck(now time.Time) time.Duration {
	next := time.Duration(1<<63 - 1)
	if wait, ok := d.parking.nextReclaim(now); ok {
		next = wait
	}
	for id, q := range d.queues {
		next = min(next, q[0].deadline.Sub(now))
		switch stalled, wait := d.w.loads.stalled(id, now); {
		case stalled:
			next = 0 // it stalled since parkStalled ran: park its waiting claims now
		case wait > 0:
			next = min(next, wait)
		}
	}
	return max(next, minWait)
}

// releaseWaiting hands every waiting claim to the recorder for release.
func (d *dispatcher) releaseWaiting() {
	for id, q := range d.queues {
		for _, wt := range q {
			d.results <- done{release: wt.claim}
		}
		delete(d.queues, id)
	}
}
