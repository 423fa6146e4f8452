package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// claimIDs returns the delivery ids of claims, in their order.
func claimIDs(cs []*hookd.Claim) []int64 {
	out := make([]int64, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Delivery.ID)
	}
	return out
}

var claimTests = []test{
	{"ClaimPassesOverSkippedWebhooks", func(t *testing.T, h *harness) {
		slow := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigFileCreated })
		fast := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigFileUpdated })
		var slowIDs, fastIDs []int64
		for range 3 { // the slow receiver's deliveries are the oldest due
			_, ds := h.publish(t, trigFileCreated)
			slowIDs = append(slowIDs, ds[0].ID)
			h.clock.Advance(time.Second)
		}
		for range 2 {
			_, ds := h.publish(t, trigFileUpdated)
			fastIDs = append(fastIDs, ds[0].ID)
			h.clock.Advance(time.Second)
		}
		cs, err := h.s.DeliveryClaim(h.ctx, &hookd.DeliveryClaimParams{Limit: 2, Lease: lease, SkipWebhooks: []int64{slow.ID, 999}})
		if err != nil {
			t.Fatalf("DeliveryClaim: %v", err)
		}
		diff(t, "claimed past the skipped webhook", claimIDs(cs), fastIDs)
		for _, c := range cs {
			if c.Delivery.WebhookID != fast.ID {
				t.Errorf("claimed delivery %d of webhook %d, want only webhook %d", c.Delivery.ID, c.Delivery.WebhookID, fast.ID)
			}
		}
		// Without the skip list the slow receiver's deliveries are claimed, oldest first.
		diff(t, "claimed without skipping", claimIDs(h.claim(t, 10)), slowIDs)
	}},
	{"ClaimLeasesDueDeliveriesWithEventAndWebhook", func(t *testing.T, h *harness) {
		w1 := h.webhook(t)
		w2 := h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "42" })
		ev, ds := h.publish(t, trigFileCreated, func(p *hookd.EventPublishParams) { p.TargetID = "42" })
		at := h.clock.Advance(time.Second)
		cs := h.claim(t, 10)
		diff(t, "claimed ids", claimIDs(cs), ids(ds))
		for i, w := range []*hookd.Webhook{w1, w2} {
			c := cs[i]
			if c.Token == 0 {
				t.Errorf("got claim token 0, want a fencing token")
			}
			want := *ds[i]
			want.State = hookd.DeliveryStateInflight
			want.LeaseUntil = ptr(at.Add(lease))
			want.Event = ev
			want.WebhookName = w.Name
			diff(t, "claimed delivery", c.Delivery, &want)
			diff(t, "claimed webhook", c.Webhook, h.getWebhook(t, w.ID), ignoreLastStatus)
			if c.Webhook.Secret == "" {
				t.Errorf("got claim without the webhook secret")
			}
			if got := h.get(t, c.Delivery.ID); got.State != hookd.DeliveryStateInflight {
				t.Errorf("got stored state %s, want inflight", got.State)
			}
		}
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Errorf("got %d claims of leased deliveries, want 0", len(cs))
		}
	}},
	{"ClaimRespectsLimitOldestDueFirst", func(t *testing.T, h *harness) {
		h.webhook(t)
		var id []int64 // published at T0, T0+1s, ... T0+4s
		for range 5 {
			_, ds := h.publish(t, trigFileCreated)
			id = append(id, ds[0].ID)
			h.clock.Advance(time.Second)
		}
		// Turn the first two into retries due before every pending one: the due order is then
		// neither id order, nor reversed id order, nor state order.
		cs := h.claim(t, 2)
		diff(t, "first claim", claimIDs(cs), id[:2])
		r0, r1 := h.result(cs[0], 503), h.result(cs[1], 503)
		r0.NextAttemptAt, r1.NextAttemptAt = T0.Add(time.Second/4), T0.Add(time.Second/2)
		h.record(t, r0, r1)
		for _, tc := range []struct {
			limit int
			want  []int64
		}{
			{1, []int64{id[0]}},
			{3, []int64{id[1], id[2], id[3]}},
			{10, []int64{id[4]}},
		} {
			diff(t, fmt.Sprintf("claim of %d", tc.limit), claimIDs(h.claim(t, tc.limit)), tc.want)
		}
	}},
	{"ClaimWaitsForNextAttemptAt", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.publish(t, trigFileCreated)
		c := h.claimOne(t)
		r := h.result(c, 500)
		r.NextAttemptAt = T0.Add(5 * time.Minute)
		h.record(t, r)
		h.clock.Advance(5*time.Minute - time.Second)
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Fatalf("got %d claims before NextAttemptAt, want 0", len(cs))
		}
		h.clock.Advance(time.Second) // exactly NextAttemptAt: due
		c2 := h.claimOne(t)
		if c2.Delivery.ID != c.Delivery.ID || c2.Delivery.State != hookd.DeliveryStateInflight || c2.Delivery.Attempts != 1 {
			t.Errorf("got claim of %d state %s attempts %d, want %d inflight 1",
				c2.Delivery.ID, c2.Delivery.State, c2.Delivery.Attempts, c.Delivery.ID)
		}
		if c2.Token == c.Token {
			t.Errorf("got the same token %d for a new claim, want a new one", c.Token)
		}
	}},
	{"ClaimExpiredLeaseWithNewToken", func(t *testing.T, h *harness) {
		h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		old := h.claimOne(t)
		h.clock.Advance(lease - time.Second)
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Fatalf("got %d claims while leased, want 0", len(cs))
		}
		at := h.clock.Advance(2 * time.Second)
		cur := h.claimOne(t)
		if cur.Delivery.ID != ds[0].ID {
			t.Fatalf("got claim of %d, want %d", cur.Delivery.ID, ds[0].ID)
		}
		if cur.Token == old.Token {
			t.Fatalf("got the expired claim's token %d again, want a new one", cur.Token)
		}
		if !cur.Delivery.LeaseUntil.Equal(at.Add(lease)) {
			t.Errorf("got LeaseUntil %v, want %v", cur.Delivery.LeaseUntil, at.Add(lease))
		}
		// The expired claim's attempt is history only; the current claim still holds.
		h.record(t, h.result(old, 200))
		d := h.get(t, ds[0].ID)
		if d.State != hookd.DeliveryStateInflight || d.Attempts != 0 || d.Status != 0 {
			t.Errorf("got state %s attempts %d status %d after a stale record, want inflight 0 0", d.State, d.Attempts, d.Status)
		}
		h.record(t, h.result(cur, 201))
		if d := h.get(t, ds[0].ID); d.State != hookd.DeliveryStateDelivered || d.Status != 201 || d.Attempts != 1 {
			t.Errorf("got state %s status %d attempts %d, want delivered 201 1", d.State, d.Status, d.Attempts)
		}
	}},
	{"ClaimNeverTakesFinishedDeliveries", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.publish(t, trigFileCreated)
		h.publish(t, trigFileCreated)
		cs := h.claim(t, 10)
		ok := h.result(cs[0], 200)
		failed := h.result(cs[1], 500)
		failed.Outcome, failed.NextAttemptAt = hookd.OutcomeFailed, time.Time{}
		h.record(t, ok, failed)
		h.clock.Advance(365 * 24 * time.Hour)
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Errorf("got %d claims of finished deliveries, want 0", len(cs))
		}
	}},
	{"ClaimWithNoLimitOrNothingDue", func(t *testing.T, h *harness) {
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Errorf("got %d claims from an empty store, want 0", len(cs))
		}
		h.webhook(t)
		h.publish(t, trigFileCreated)
		if cs := h.claim(t, 0); len(cs) != 0 {
			t.Errorf("got %d claims with limit 0, want 0", len(cs))
		}
		if cs := h.claim(t, 1); len(cs) != 1 {
			t.Errorf("got %d claims, want 1", len(cs))
		}
	}},
	{"NextDueIgnoresLeasedAndFinished", func(t *testing.T, h *harness) {
		next := func() time.Time {
			t.Helper()
			at, err := h.s.DeliveryNextDue(h.ctx)
			if err != nil {
				t.Fatalf("DeliveryNextDue: %v", err)
			}
			return at
		}
		if at := next(); !at.IsZero() {
			t.Fatalf("got next due %v on an empty store, want zero", at)
		}
		h.webhook(t)
		h.publish(t, trigFileCreated)
		if at := next(); !at.Equal(T0) {
			t.Errorf("got next due %v, want %v", at, T0)
		}
		c := h.claimOne(t)
		if at := next(); !at.IsZero() {
			t.Errorf("got next due %v with only a leased delivery, want zero", at)
		}
		r := h.result(c, 502)
		r.NextAttemptAt = T0.Add(time.Hour)
		h.record(t, r)
		h.clock.Advance(time.Minute)
		h.publish(t, trigFileCreated)
		if at := next(); !at.Equal(T0.Add(time.Minute)) {
			t.Errorf("got next due %v, want the new pending %v", at, T0.Add(time.Minute))
		}
		h.record(t, h.result(h.claimOne(t), 200))
		if at := next(); !at.Equal(T0.Add(time.Hour)) {
			t.Errorf("got next due %v, want the retry at %v", at, T0.Add(time.Hour))
		}
	}},
	{"ReleaseReturnsClaimsToDue", func(t *testing.T, h *harness) {
		h.webhook(t)
		_, d1 := h.publish(t, trigFileCreated)
		_, d2 := h.publish(t, trigFileCreated)
		first := h.claim(t, 1)
		r := h.result(first[0], 503)
		r.NextAttemptAt = h.clock.Now()
		h.record(t, r)
		cs := h.claim(t, 10) // both due at T0: id order
		diff(t, "claimed", claimIDs(cs), []int64{d1[0].ID, d2[0].ID})
		if err := h.s.DeliveryRelease(h.ctx, cs); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
		for _, tc := range []struct {
			id    int64
			state hookd.DeliveryState
		}{{d1[0].ID, hookd.DeliveryStateRetrying}, {d2[0].ID, hookd.DeliveryStatePending}} {
			d := h.get(t, tc.id)
			if d.State != tc.state || d.LeaseUntil != nil {
				t.Errorf("delivery %d: got state %s lease %v, want %s and no lease", tc.id, d.State, d.LeaseUntil, tc.state)
			}
		}
		again := h.claim(t, 10)
		if len(again) != 2 {
			t.Fatalf("got %d claims after release, want 2", len(again))
		}
		// Releasing with the old tokens leaves the new claims alone.
		if err := h.s.DeliveryRelease(h.ctx, cs); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
		for _, c := range again {
			if d := h.get(t, c.Delivery.ID); d.State != hookd.DeliveryStateInflight {
				t.Errorf("delivery %d: got state %s after a stale release, want inflight", c.Delivery.ID, d.State)
			}
		}
		if err := h.s.DeliveryRelease(h.ctx, nil); err != nil {
			t.Errorf("DeliveryRelease(nil): %v", err)
		}
	}},
}
