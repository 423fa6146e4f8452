package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// Per-webhook fairness. The store claims the oldest due deliveries whatever their webhook, so
// the worker itself keeps one receiver from taking every sender: a webhook has at most its
// adaptive limit of attempts in flight (loads.go). A claim whose webhook is at its limit
// waits in that webhook's queue in memory, without a sender (it still counts against
// Concurrency, which bounds memory). When the webhook is stalled, at its limit with no
// attempt ending for stallAfter, or blocked by a Retry-After, its waiting claims are parked
// instead (park.go): they give back their slot and stay leased, so that the store hands them
// out again when the lease ends, without an attempt counted. A webhook once stalled stays
// suspect, its claims over the limit parked at once, until one of its attempts ends quickly
// again; its parked claims are then released at once (a blocked one's when the block ends).
//
// Releasing those claims would not do: a released delivery keeps its place at the head of the
// due order and would be claimed again at once, ahead of every healthy receiver's deliveries.
// The claim itself passes over webhooks without room (DeliveryClaimParams.SkipWebhooks), so
// parking is left for the claims taken before a webhook filled up or stalled.

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
	jobs    chan<- job
	results chan<- done
	queues  map[int64][]waiting
	parking *parking
}

// claimed is what a claim brought back: the claims, or the error, and how long to wait
// before claiming again when nothing else wakes the dispatcher.
type claimed struct {
	claims []*hookd.Claim
	err    error
	wait   time.Duration
}

// run claims into free slots until ctx ends, then releases the claims still waiting.
//
// A claim runs in its own goroutine while this one goes on starting waiting claims as their
// webhooks get room: the store's single writer may be busy recording for a while, and
// attempts that end meanwhile must not leave their webhook's places empty until it is done.
// One claim at a time: only this goroutine takes slots, so the free slots a claim was sized
// for are still free when it returns.
func (d *dispatcher) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	results := make(chan claimed, 1)
	reqs := make(chan claimRequest, 1)
	defer close(reqs)
	go d.claimer(ctx, reqs, results)
	claiming := false
	due := false             // claim as soon as none is running: something woke the dispatcher meanwhile
	wait := time.Duration(0) // until the next claim when nothing wakes the dispatcher
	for {
		select {
		case <-ctx.Done():
			if claiming {
				d.route(ctx, <-results, time.Now()) // shutting down: route releases them
			}
			d.releaseWaiting()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordGrace)
			d.releaseParked(rctx, time.Now(), true)
			cancel()
			return
		case <-d.w.wake:
			due = true
		case <-timer.C:
			due = true
		case r := <-results:
			claiming = false
			wait = d.route(ctx, r, time.Now())
			due = due || wait == minWait
		}
		now := time.Now()
		d.startWaiting(now)
		d.parkStalled(now)
		d.releaseParked(ctx, now, false)
		free := cap(d.slots) - len(d.slots)
		if due && !claiming && free > 0 && (free >= cap(d.slots)/4 || !d.anyWaiting()) {
			claiming, due = true, false
			reqs <- claimRequest{free: free, skip: d.skip(now)}
		}
		next := d.nextCheck(time.Now())
		if !claiming && free > 0 { // with no slot free, the recorder wakes the dispatcher when one is
			next = min(next, wait)
		}
		timer.Reset(next)
	}
}

// anyWaiting reports whether a claim waits for its webhook to have room. While one does, the
// dispatcher claims only when a quarter of the slots are free: the senders have work on hand,
// and the store's writer gets fewer, bigger claims.
func (d *dispatcher) anyWaiting() bool {
	return len(d.queues) > 0
}

// claimRequest asks the claimer for a claim of up to free deliveries, passing over skip.
type claimRequest struct {
	free int
	skip []int64
}

// claimer makes the claims the dispatcher asks for, one at a time, until reqs is closed. It
// is one long-lived goroutine rather than one per claim: a fresh goroutine grew its stack
// anew through SQLite's deep call chains on every claim (runtime.newstack took 5 % of the
// server's CPU, docs/perf.md).
func (d *dispatcher) claimer(ctx context.Context, reqs <-chan claimRequest, results chan<- claimed) {
	for r := range reqs {
		d.claim(ctx, r.free, r.skip, results)
	}
}

// claim leases up to free due deliveries, passing over the webhooks of skip, and hands them
// to results with how long to wait before claiming again.
func (d *dispatcher) claim(ctx context.Context, free int, skip []int64, results chan<- claimed) {
	d.w.claimMu.Lock()
	claims, err := d.w.store.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: free, Lease: d.w.cfg.Lease, SkipWebhooks: skip})
	d.w.claimMu.Unlock()
	wait := d.w.cfg.PollInterval
	if err == nil && len(claims) < free {
		wait = d.w.untilNextDue(ctx, wait)
	}
	results <- claimed{claims: claims, err: err, wait: wait}
}

// route takes a slot for each claim of r and sends, queues or parks it. It returns how long
// to wait before claiming again: minWait after parking, to look past the parked deliveries
// at once (behind them may wait healthy receivers').
func (d *dispatcher) route(ctx context.Context, r claimed, now time.Time) time.Duration {
	switch {
	case r.err != nil && ctx.Err() != nil:
		return r.wait
	case r.err != nil:
		d.w.log.Error("claim deliveries", "err", r.err)
		return r.wait
	}
	parked := 0
	for _, c := range r.claims {
		d.parking.claimed(c)
		d.slots <- struct{}{}
		if !d.routeOne(ctx, c, now) {
			<-d.slots
			d.parking.add(c, now, d.w.cfg.Lease, d.w.stallAfter)
			parked++
		}
	}
	if parked > 0 {
		d.w.log.Debug("deliveries parked: their webhook is stalled", "count", parked)
		return minWait
	}
	return r.wait
}

// maxSkip bounds the webhooks one claim passes over, to keep the statement small.
const maxSkip = 256

// skip returns the webhooks the next claim should pass over: those with as many claims
// waiting as they drain in queueBudget (at least a round of their limit; loads.full) or
// blocked by a Retry-After, and those with parked claims (stalled or
// suspect: another claim would be parked too). Without it the oldest due deliveries, those of
// a slow receiver's growing backlog, would take every free slot and wait there, and the
// deliveries of healthy receivers behind them would wait too.
func (d *dispatcher) skip(now time.Time) []int64 {
	var ids []int64
	for id, q := range d.queues {
		if len(ids) < maxSkip && d.w.loads.full(id, len(q), now) {
			ids = append(ids, id)
		}
	}
	for id := range d.parking.byHook {
		if _, queued := d.queues[id]; !queued && len(ids) < maxSkip {
			ids = append(ids, id)
		}
	}
	return ids
}

// routeOne sends c, queues it behind its webhook's attempts, or, when the webhook is stalled,
// parks it and returns false (the caller gives its slot back).
func (d *dispatcher) routeOne(ctx context.Context, c *hookd.Claim, now time.Time) bool {
	if ctx.Err() != nil {
		d.results <- done{release: c} // shutting down: not started, due again at once
		return true
	}
	if d.w.heldBack(c) {
		d.results <- done{release: c, hold: true}
		return true
	}
	id := c.Delivery.WebhookID
	if len(d.queues[id]) == 0 && d.w.loads.tryStart(id, now) {
		d.jobs <- job{claim: c, started: now}
		return true
	}
	if stalled, _ := d.w.loads.stalled(id, now); stalled {
		return false
	}
	if d.w.loads.full(id, len(d.queues[id]), now) {
		// As many wait as it drains in queueBudget: released, it keeps its place in the due order
		// and is claimed again when the webhook has room, instead of holding a slot that a
		// healthy receiver's delivery could use (the next claims pass over the webhook).
		d.results <- done{release: c}
		return true
	}
	d.queues[id] = append(d.queues[id], waiting{claim: c, claimed: now, deadline: now.Add(d.w.maxWait)})
	return true
}

// startWaiting sends the waiting claims whose webhook has room again, and releases those that
// waited so long that their lease would end during the attempt, or whose webhook was paused
// meanwhile (to be held).
func (d *dispatcher) startWaiting(now time.Time) {
	for id, q := range d.queues {
		for len(q) > 0 {
			if held := d.w.heldBack(q[0].claim); held || now.After(q[0].deadline) {
				d.results <- done{release: q[0].claim, hold: held}
			} else if d.w.loads.tryStart(id, now) {
				d.jobs <- job{claim: q[0].claim, started: now}
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
	if wait, ok := d.w.loads.nextUnblock(now); ok {
		next = min(next, wait)
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
