package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// stats runs DeliveryStats and fails the test on error.
func (h *harness) stats(t testing.TB) hookd.DeliveryStats {
	t.Helper()
	st, err := h.s.DeliveryStats(h.ctx)
	if err != nil {
		t.Fatalf("DeliveryStats: %v", err)
	}
	return *st
}

// prune runs DeliveryPrune and fails the test on error.
func (h *harness) prune(t testing.TB, before time.Time, limit int) int {
	t.Helper()
	n, err := h.s.DeliveryPrune(h.ctx, before, limit)
	if err != nil {
		t.Fatalf("DeliveryPrune(%s, %d): %v", before, limit, err)
	}
	return n
}

// disableFailing runs WebhookDisableFailing and returns the ids it disabled, in order.
func (h *harness) disableFailing(t testing.TB, since time.Time, reason string) []int64 {
	t.Helper()
	ws, err := h.s.WebhookDisableFailing(h.ctx, since, reason)
	if err != nil {
		t.Fatalf("WebhookDisableFailing: %v", err)
	}
	out := []int64{}
	for _, w := range ws {
		if w.Enabled || w.DisabledReason != reason {
			t.Errorf("webhook %d returned with enabled=%v reason=%q, want disabled with %q", w.ID, w.Enabled, w.DisabledReason, reason)
		}
		out = append(out, w.ID)
	}
	return out
}

// settle publishes one event for webhook-matching subscribers, claims it and records status
// (2xx delivered, else retrying); with final it records a failed outcome instead of a retry.
func (h *harness) settle(t testing.TB, status int, final bool) *hookd.Delivery {
	t.Helper()
	_, ds := h.publish(t, trigFileCreated)
	c := h.claimOne(t)
	if c.Delivery.ID != ds[0].ID {
		t.Fatalf("claimed delivery %d, want %d", c.Delivery.ID, ds[0].ID)
	}
	r := h.result(c, status)
	if final && r.Outcome == hookd.OutcomeRetry {
		r.Outcome, r.NextAttemptAt = hookd.OutcomeFailed, time.Time{}
	}
	h.record(t, r)
	return h.get(t, c.Delivery.ID)
}

// gone fails the test unless every delivery id is unknown to the store.
func (h *harness) gone(t testing.TB, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		if _, err := h.s.DeliveryGet(h.ctx, id); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("DeliveryGet(%d) after prune: got error %v, want not found", id, err)
		}
	}
}

var opsTests = []test{
	{"StatsCountBacklogAndOldestDue", func(t *testing.T, h *harness) {
		diff(t, "empty stats", h.stats(t), hookd.DeliveryStats{})
		h.webhook(t)
		_, d1 := h.publish(t, trigFileCreated) // due T0
		t10 := h.clock.Advance(10 * time.Second)
		_, d2 := h.publish(t, trigFileCreated) // due T0+10s
		_, d3 := h.publish(t, trigFileCreated) // due T0+10s
		c1 := h.claimOne(t)
		if c1.Delivery.ID != d1[0].ID {
			t.Fatalf("claimed %d, want the oldest due %d", c1.Delivery.ID, d1[0].ID)
		}
		r1 := h.result(c1, 503)
		r1.NextAttemptAt = t10.Add(30 * time.Second) // retrying, due before d2's lease ends
		h.record(t, r1)
		if c2 := h.claimOne(t); c2.Delivery.ID != d2[0].ID {
			t.Fatalf("claimed %d, want %d", c2.Delivery.ID, d2[0].ID)
		}
		diff(t, "stats with one of each", h.stats(t), hookd.DeliveryStats{
			Pending: 1, Retrying: 1, Inflight: 1, Due: 1, OldestDue: t10,
		})
		if got := h.stats(t); got.Backlog() != 3 {
			t.Errorf("got backlog %d, want 3", got.Backlog())
		}

		h.clock.Advance(40 * time.Second)
		diff(t, "stats once the retry is due", h.stats(t), hookd.DeliveryStats{
			Pending: 1, Retrying: 1, Inflight: 1, Due: 2, OldestDue: t10,
		})

		// Settle everything: final states leave the backlog.
		cs := h.claim(t, 10)
		diff(t, "claimed", claimIDs(cs), []int64{d3[0].ID, d1[0].ID})
		h.record(t, h.result(cs[0], 200), h.result(cs[1], 200))
		diff(t, "stats with one in flight", h.stats(t), hookd.DeliveryStats{Inflight: 1})
	}},
	{"StatsIgnoreFutureRetries", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.publish(t, trigFileCreated)
		c := h.claimOne(t)
		r := h.result(c, 500)
		r.NextAttemptAt = h.clock.Now().Add(time.Hour)
		h.record(t, r)
		diff(t, "stats", h.stats(t), hookd.DeliveryStats{Retrying: 1})
	}},
	{"PruneDeletesOldFinalDeliveriesOnly", func(t *testing.T, h *harness) {
		h.webhook(t)
		delivered := h.settle(t, 200, false)
		failed := h.settle(t, 500, true)
		retrying := h.settle(t, 500, false)
		_, pending := h.publish(t, trigFileCreated)
		if failed.State != hookd.DeliveryStateFailed || retrying.State != hookd.DeliveryStateRetrying {
			t.Fatalf("got states %s, %s, want failed, retrying", failed.State, retrying.State)
		}
		cutoff := h.clock.Advance(24 * time.Hour)
		h.clock.Advance(time.Second)
		_, ys := h.publish(t, trigFileCreated)
		young := ys[0]
		// The old retrying and pending deliveries are due too: they fail again, still not final.
		for _, c := range h.claim(t, 10) {
			if c.Delivery.ID == young.ID {
				h.record(t, h.result(c, 200))
			} else {
				h.record(t, h.result(c, 503))
			}
		}

		if n := h.prune(t, cutoff, 100); n != 2 {
			t.Fatalf("pruned %d deliveries, want 2 (the old delivered and failed)", n)
		}
		h.gone(t, delivered.ID, failed.ID)
		for _, id := range []int64{retrying.ID, pending[0].ID, young.ID} {
			if d := h.get(t, id); d.Event == nil || len(d.Event.Payload) == 0 {
				t.Errorf("delivery %d kept without its event payload", id)
			}
		}
		if as, err := h.s.AttemptList(h.ctx, delivered.ID); err != nil || len(as) != 0 {
			t.Errorf("AttemptList of a pruned delivery: got %d attempts (err %v), want none", len(as), err)
		}
		if ds, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{delivered.ID}}); err != nil || len(ds) != 0 {
			t.Errorf("DeliveryRetry of a pruned delivery: got %d deliveries (err %v), want none", len(ds), err)
		}
		_, total := h.list(t, hookd.DeliveryFilter{})
		if total != 3 {
			t.Errorf("got %d deliveries listed after prune, want 3", total)
		}
		if n := h.prune(t, cutoff, 100); n != 0 {
			t.Errorf("second prune deleted %d deliveries, want 0", n)
		}
	}},
	{"PruneInBatchesOldestFirst", func(t *testing.T, h *harness) {
		h.webhook(t)
		var id []int64
		for range 5 {
			id = append(id, h.settle(t, 200, false).ID)
			h.clock.Advance(time.Minute)
		}
		before := h.clock.Now()
		if n := h.prune(t, before, 2); n != 2 {
			t.Fatalf("first batch pruned %d, want 2", n)
		}
		h.gone(t, id[0], id[1])
		if d := h.get(t, id[2]); d.ID != id[2] {
			t.Fatalf("got delivery %d, want %d", d.ID, id[2])
		}
		for i, want := range []int{2, 1, 0} {
			if n := h.prune(t, before, 2); n != want {
				t.Errorf("batch %d pruned %d, want %d", i+2, n, want)
			}
		}
		h.gone(t, id...)
		if n := h.prune(t, before, 0); n != 0 {
			t.Errorf("prune with limit 0 deleted %d, want 0", n)
		}
	}},
	{"PruneKeepsEventsStillReferenced", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.webhook(t)
		ev, ds := h.publish(t, trigFileCreated) // one event, two deliveries
		cs := h.claim(t, 2)
		h.record(t, h.result(cs[0], 200), h.result(cs[1], 503))
		old := h.get(t, ds[0].ID)
		if old.State != hookd.DeliveryStateDelivered {
			t.Fatalf("got state %s, want delivered", old.State)
		}
		// A manual retry, a day later, of the delivered one: a young delivery of the old event.
		h.clock.Advance(24 * time.Hour)
		retried, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{old.ID}, CreatedBy: "u"})
		if err != nil || len(retried) != 1 {
			t.Fatalf("DeliveryRetry: got %d deliveries, err %v", len(retried), err)
		}
		h.clock.Advance(time.Hour)
		if n := h.prune(t, T0.Add(time.Hour), 10); n != 1 {
			t.Fatalf("pruned %d, want 1 (only the delivered one is final)", n)
		}
		h.gone(t, old.ID)
		for _, id := range []int64{ds[1].ID, retried[0].ID} {
			d := h.get(t, id)
			if d.Event == nil || string(d.Event.Payload) != string(ev.Payload) {
				t.Errorf("delivery %d lost its event: got %+v", id, d.Event)
			}
		}
	}},
	{"DisableFailingWebhooks", func(t *testing.T, h *harness) {
		const reason = "no successful delivery for 1h0m0s"
		// Each webhook gets its own trigger so that settle's publish reaches only it.
		mask := func(tr hookd.Trigger) func(*hookd.Webhook) {
			return func(w *hookd.Webhook) { w.Triggers = tr }
		}
		settleFor := func(tr hookd.Trigger, status int) {
			t.Helper()
			h.publish(t, tr)
			r := h.result(h.claimOne(t), status)
			if r.Outcome == hookd.OutcomeRetry {
				r.Outcome, r.NextAttemptAt = hookd.OutcomeFailed, time.Time{} // nothing left due
			}
			h.record(t, r)
		}
		idle := h.webhook(t, mask(1<<0))       // never attempted
		neverOK := h.webhook(t, mask(1<<1))    // failed, never succeeded, created at T0
		brokeLater := h.webhook(t, mask(1<<2)) // succeeded at T0, failing since
		recovered := h.webhook(t, mask(1<<3))  // failed, then succeeded recently
		off := h.webhook(t, mask(1<<4))        // failing but already disabled
		settleFor(1<<1, 500)
		settleFor(1<<2, 200)
		settleFor(1<<3, 0)
		settleFor(1<<4, 500)
		if _, err := h.s.WebhookSetEnabled(h.ctx, off.ID, false, "u", ""); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(30 * time.Minute)
		settleFor(1<<2, 503)
		h.clock.Advance(2 * time.Hour)
		settleFor(1<<3, 204)
		young := h.webhook(t, mask(1<<5)) // created after since, failing
		settleFor(1<<5, 500)

		since := h.clock.Now().Add(-time.Hour)
		diff(t, "disabled", h.disableFailing(t, since, reason), []int64{neverOK.ID, brokeLater.ID})
		for _, id := range []int64{neverOK.ID, brokeLater.ID} {
			if w := h.getWebhook(t, id); w.Enabled || w.DisabledReason != reason || w.Secret == "" {
				t.Errorf("webhook %d: got enabled=%v reason=%q, want disabled with the reason and its secret kept", id, w.Enabled, w.DisabledReason)
			}
		}
		for _, id := range []int64{idle.ID, recovered.ID, young.ID} {
			if w := h.getWebhook(t, id); !w.Enabled {
				t.Errorf("webhook %d disabled, want it left enabled", id)
			}
		}
		if w := h.getWebhook(t, off.ID); w.DisabledReason != "" {
			t.Errorf("already disabled webhook got reason %q, want it untouched", w.DisabledReason)
		}
		diff(t, "disabled again", h.disableFailing(t, since, reason), []int64{})
	}},
	{"DisableFailingWaitsForAFailureAfterReenabling", func(t *testing.T, h *harness) {
		const reason = "no successful delivery for 1h0m0s"
		w := h.webhook(t)
		h.publish(t, trigFileCreated)
		h.record(t, h.result(h.claimOne(t), 500))
		h.clock.Advance(2 * time.Hour)
		diff(t, "disabled", h.disableFailing(t, h.clock.Now().Add(-time.Hour), reason), []int64{w.ID})

		// A person turns it back on: no new failure yet, so it stays on (DocSpace, too,
		// disables only when an attempt fails).
		h.clock.Advance(time.Minute)
		if _, err := h.s.WebhookSetEnabled(h.ctx, w.ID, true, "u", ""); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
		diff(t, "disabled right after enabling", h.disableFailing(t, h.clock.Now().Add(-time.Hour), reason), []int64{})
		h.publish(t, trigFileCreated)
		h.record(t, h.result(h.claimOne(t), 502))
		diff(t, "disabled after the next failure", h.disableFailing(t, h.clock.Now().Add(-time.Hour), reason), []int64{w.ID})
	}},
}
