package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// maxParkedPerWebhook bounds what the dispatcher remembers of one webhook's parked claims;
// claims past it are left to their lease alone.
const maxParkedPerWebhook = 10000

// parkedClaim is what a parked claim needs to be released: its delivery and fencing token.
type parkedClaim struct {
	claim *hookd.Claim // the delivery's ID and WebhookID only, and the token
	until time.Time    // when its lease ends: past it, another claim may hold the delivery
}

// parking remembers the claims parked behind stalled webhooks. A parked claim comes back by
// itself when its lease ends; the dispatcher releases it sooner when its webhook has room
// again or answers quickly again (it was only slow for a moment, or has recovered).
type parking struct {
	byHook map[int64][]parkedClaim
	// reclaim holds when leases of parked claims end, oldest first, a little apart: the
	// dispatcher looks for due deliveries again then, as the store's next due time does not
	// cover leases.
	reclaim []time.Time
}

func newParking() *parking {
	return &parking{byHook: map[int64][]parkedClaim{}}
}

// add parks c, leased at about claimed for lease; round spaces the wake-ups.
func (p *parking) add(c *hookd.Claim, claimed time.Time, lease, round time.Duration) {
	id := c.Delivery.WebhookID
	if len(p.byHook[id]) < maxParkedPerWebhook {
		light := &hookd.Claim{Delivery: &hookd.Delivery{ID: c.Delivery.ID, WebhookID: id}, Token: c.Token}
		p.byHook[id] = append(p.byHook[id], parkedClaim{claim: light, until: claimed.Add(lease)})
	}
	// Rounded up to a multiple of round: one wake-up serves every park in that span.
	end := claimed.Add(lease).Truncate(round).Add(round)
	if n := len(p.reclaim); n == 0 || end.After(p.reclaim[n-1]) {
		p.reclaim = append(p.reclaim, end)
	}
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

// take removes and returns, oldest first, up to n(webhookID) parked claims of each webhook,
// and forgets those whose lease has ended.
func (p *parking) take(now time.Time, n func(webhookID int64) int) []*hookd.Claim {
	var out []*hookd.Claim
	for id, cs := range p.byHook {
		for len(cs) > 0 && !cs[0].until.After(now) {
			cs = cs[1:]
		}
		k := min(max(n(id), 0), len(cs))
		for _, c := range cs[:k] {
			out = append(out, c.claim)
		}
		if cs = cs[k:]; len(cs) == 0 {
			delete(p.byHook, id)
		} else {
			p.byHook[id] = cs
		}
	}
	return out
}

// releaseParked releases parked claims so that they are due again at once rather than when
// their leases end: all of them at shutdown (all set) and for webhooks no longer suspect, and
// as many as a suspect webhook has room for under its cap, so that it is tried again as soon
// as its stuck attempts end.
func (d *dispatcher) releaseParked(ctx context.Context, now time.Time, all bool) {
	cs := d.parking.take(now, func(id int64) int {
		if all || !d.w.loads.isSuspect(id) {
			return maxParkedPerWebhook
		}
		return d.w.cfg.PerWebhookInflight - d.w.loads.inflight(id)
	})
	if len(cs) == 0 {
		return
	}
	if err := d.w.store.DeliveryRelease(ctx, cs); err != nil {
		d.w.log.Warn("release parked deliveries; their leases will bring them back", "count", len(cs), "err", err)
		return
	}
	d.w.log.Debug("parked deliveries released", "count", len(cs))
}
