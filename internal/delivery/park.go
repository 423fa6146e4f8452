package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// parkedClaim is what a parked claim needs to be released: its delivery and fencing token.
// It is small on purpose: a stalled webhook may have its whole due backlog parked.
type parkedClaim struct {
	deliveryID, webhookID, token int64
	until                        time.Time // when its lease ends
}

// parking remembers the claims parked behind stalled webhooks. A parked claim would come back
// by itself when its lease ends; the dispatcher releases it sooner when its webhook has room
// again or answers quickly again (it was only slow for a moment, or has recovered), and
// releases it anyway once the lease has ended, so that every claim ends in a record or a
// release (the metrics count claims in flight that way).
type parking struct {
	byHook map[int64][]parkedClaim // oldest first
	tokens map[int64]int64         // delivery id → token of its parked claim; absent once superseded
	// reclaim holds when leases of parked claims end, oldest first, a little apart: the
	// dispatcher looks for due deliveries again then, as the store's next due time does not
	// cover leases.
	reclaim []time.Time
}

func newParking() *parking {
	return &parking{byHook: map[int64][]parkedClaim{}, tokens: map[int64]int64{}}
}

// add parks c, leased at about claimed for lease; round spaces the wake-ups.
func (p *parking) add(c *hookd.Claim, claimed time.Time, lease, round time.Duration) {
	pc := parkedClaim{deliveryID: c.Delivery.ID, webhookID: c.Delivery.WebhookID, token: c.Token, until: claimed.Add(lease)}
	p.byHook[pc.webhookID] = append(p.byHook[pc.webhookID], pc)
	p.tokens[pc.deliveryID] = pc.token
	// Rounded up to a multiple of round: one wake-up serves every park in that span.
	end := pc.until.Truncate(round).Add(round)
	if n := len(p.reclaim); n == 0 || end.After(p.reclaim[n-1]) {
		p.reclaim = append(p.reclaim, end)
	}
}

// claimed notes a new claim of a delivery: a parked claim of it, its lease over, is superseded.
func (p *parking) claimed(c *hookd.Claim) {
	delete(p.tokens, c.Delivery.ID)
}

// nextReclaim returns how long until parked claims come due by their lease; ok is false
// when none is waiting.
func (p *parking) nextReclaim(now time.Time) (wait time.Duration, ok bool) {
	for len(p.reclaim) > 0 && !p.reclaim[0].After(now) {
		p.reclaim = p.reclaim[1:]
	}
	if len(p.reclaim) == 0 {
		return 0, false
	}
	return p.reclaim[0].Sub(now), true
}

// take removes and returns, oldest first, the parked claims of each webhook whose lease has
// ended and up to n(webhookID) more; superseded claims are dropped.
func (p *parking) take(now time.Time, n func(webhookID int64) int) []*hookd.Claim {
	var out []*hookd.Claim
	for id, cs := range p.byHook {
		k := -1 // computed on the first live claim
		i := 0
		for ; i < len(cs); i++ {
			pc := cs[i]
			if tok, ok := p.tokens[pc.deliveryID]; !ok || tok != pc.token {
				continue // superseded by a later claim
			}
			if pc.until.After(now) {
				if k < 0 {
					k = n(id)
				}
				if k == 0 {
					break
				}
				k--
			}
			delete(p.tokens, pc.deliveryID)
			out = append(out, &hookd.Claim{Delivery: &hookd.Delivery{ID: pc.deliveryID, WebhookID: id}, Token: pc.token})
		}
		if cs = cs[i:]; len(cs) == 0 {
			delete(p.byHook, id)
		} else {
			p.byHook[id] = cs
		}
	}
	return out
}

// releaseParked releases parked claims so that they are due again at once rather than when
// their leases end: all of them at shutdown (all set) and for webhooks neither suspect nor
// blocked, and as many as a suspect webhook has room for under its limit, so that it is
// tried again as soon as its stuck attempts end. Those of a webhook paused since they were
// leased go to the recorder, as many as there are free slots, to be released and held.
func (d *dispatcher) releaseParked(ctx context.Context, now time.Time, all bool) {
	free := cap(d.slots) - len(d.slots)
	cs := d.parking.take(now, func(id int64) int {
		if _, paused := d.w.loads.pausedSince(id); paused && !all {
			k := min(free, len(d.parking.byHook[id]))
			free -= k
			return k
		}
		if n, everything := d.w.loads.room(id, now); !everything && !all {
			return n
		}
		return len(d.parking.byHook[id])
	})
	var release []*hookd.Claim
	for _, c := range cs {
		if _, paused := d.w.loads.pausedSince(c.Delivery.WebhookID); paused && !all && len(d.slots) < cap(d.slots) {
			d.slots <- struct{}{}
			d.results <- done{release: c, hold: true}
			continue
		}
		release = append(release, c)
	}
	if len(release) == 0 {
		return
	}
	if err := d.w.store.DeliveryRelease(ctx, release); err != nil {
		if ctx.Err() != nil && !all {
			// The worker is stopping: park them again for the release at shutdown, which
			// has a deadline of its own, rather than leave them in flight until their
			// leases end.
			for _, c := range release {
				d.parking.add(c, now, d.w.cfg.Lease, d.w.stallAfter)
			}
			return
		}
		d.w.log.Warn("release parked deliveries; their leases will bring them back", "count", len(release), "err", err)
		return
	}
	d.w.log.Debug("parked deliveries released", "count", len(release))
}
