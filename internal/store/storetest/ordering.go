package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// ordered makes a webhook ordered.
func ordered(w *hookd.Webhook) { w.Ordered = true }

// keyed publishes an event of trFileCreated with ordering key k and returns its one delivery
// (the harness has one webhook matching it).
func (h *harness) keyed(t testing.TB, k string) *hookd.Delivery {
	t.Helper()
	_, ds := h.publish(t, trigFileCreated, func(p *hookd.EventPublishParams) { p.OrderingKey = k })
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	return ds[0]
}

// claimByID claims up to limit deliveries and returns them by delivery id, with their ids in
// claim order.
func (h *harness) claimByID(t testing.TB, limit int) (map[int64]*hookd.Claim, []int64) {
	t.Helper()
	cs := h.claim(t, limit)
	out := make(map[int64]*hookd.Claim, len(cs))
	for _, c := range cs {
		out[c.Delivery.ID] = c
	}
	return out, claimIDs(cs)
}

// finish records an attempt of c with status and outcome.
func (h *harness) finish(t testing.TB, c *hookd.Claim, status int, outcome hookd.Outcome) {
	t.Helper()
	if c == nil {
		t.Fatalf("got no claim to finish, want one")
	}
	r := h.result(c, status)
	r.Outcome = outcome
	h.record(t, r)
}

var orderingTests = []test{
	{"OrderedIsWrittenByCreateAndUpdate", func(t *testing.T, h *harness) {
		w := h.webhook(t, ordered)
		if !w.Ordered || !h.getWebhook(t, w.ID).Ordered {
			t.Fatalf("got Ordered false after creating an ordered webhook, want true")
		}
		for _, want := range []bool{false, true} {
			in := *w
			in.Ordered, in.Secret = want, ""
			got, err := h.s.WebhookUpdate(h.ctx, &in)
			if err != nil {
				t.Fatalf("WebhookUpdate: %v", err)
			}
			if got.Ordered != want || h.getWebhook(t, w.ID).Ordered != want {
				t.Errorf("got Ordered %v after update, want %v", got.Ordered, want)
			}
		}
		if h.webhook(t).Ordered {
			t.Errorf("got a new webhook ordered, want unordered by default")
		}
	}},
	{"OrderingKeyGoesToOrderedWebhooksOnly", func(t *testing.T, h *harness) {
		wo := h.webhook(t, ordered)
		wu := h.webhook(t)
		ev, ds := h.publish(t, trigFileCreated, func(p *hookd.EventPublishParams) { p.OrderingKey = "doc-7" })
		if ev.OrderingKey != "doc-7" || len(ds) != 2 {
			t.Fatalf("got event key %q and %d deliveries, want doc-7 and 2", ev.OrderingKey, len(ds))
		}
		for i, want := range []string{"doc-7", ""} {
			stored := h.get(t, ds[i].ID)
			if ds[i].OrderingKey != want || stored.OrderingKey != want || stored.Event.OrderingKey != "doc-7" {
				t.Errorf("delivery to webhook %d: got key %q, stored %q, event %q; want %q, %q, doc-7",
					ds[i].WebhookID, ds[i].OrderingKey, stored.OrderingKey, stored.Event.OrderingKey, want, want)
			}
		}
		// A manual retry takes the webhook's setting at retry time.
		in := *wu
		in.Ordered, in.Secret = true, ""
		if _, err := h.s.WebhookUpdate(h.ctx, &in); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		in = *wo
		in.Ordered, in.Secret = false, ""
		if _, err := h.s.WebhookUpdate(h.ctx, &in); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		rs, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: ids(ds), CreatedBy: "admin"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(rs) != 2 || rs[0].OrderingKey != "" || rs[1].OrderingKey != "doc-7" {
			t.Fatalf("got retries %+v, want keys \"\" (now unordered) and doc-7 (now ordered)", rs)
		}
	}},
	{"OrderedHeadBlocksOnlyItsKey", func(t *testing.T, h *harness) {
		h.webhook(t, ordered)
		a1, a2, b1, n1, a3 := h.keyed(t, "A"), h.keyed(t, "A"), h.keyed(t, "B"), h.keyed(t, ""), h.keyed(t, "A")
		cs, got := h.claimByID(t, 10)
		diff(t, "first claim: one of each key, and the unordered one", got, []int64{a1.ID, b1.ID, n1.ID})
		if _, got := h.claimByID(t, 10); len(got) != 0 {
			t.Fatalf("got claims %v while each key's head is in flight, want none", got)
		}
		h.finish(t, cs[a1.ID], 200, hookd.OutcomeDelivered)
		cs, got = h.claimByID(t, 10)
		diff(t, "after the head of A is delivered", got, []int64{a2.ID})
		h.finish(t, cs[a2.ID], 200, hookd.OutcomeDelivered)
		diff(t, "after the second of A", claimIDs(h.claim(t, 10)), []int64{a3.ID})
	}},
	{"OrderedRetryingHeadBlocksItsKey", func(t *testing.T, h *harness) {
		h.webhook(t, ordered)
		a1, a2 := h.keyed(t, "A"), h.keyed(t, "A")
		c := h.claimOne(t)
		r := h.result(c, 503)
		r.NextAttemptAt = T0.Add(time.Minute)
		h.record(t, r)
		h.clock.Advance(30 * time.Second) // a2 is due, the retrying head is not
		if got := claimIDs(h.claim(t, 10)); len(got) != 0 {
			t.Fatalf("got claims %v behind a retrying head, want none", got)
		}
		h.clock.Advance(30 * time.Second) // both are due: only the head goes
		cs, got := h.claimByID(t, 10)
		diff(t, "claim when both are due", got, []int64{a1.ID})
		h.finish(t, cs[a1.ID], 200, hookd.OutcomeDelivered)
		diff(t, "after the head is delivered", claimIDs(h.claim(t, 10)), []int64{a2.ID})
	}},
	{"OrderedFailedHeadUnblocksAndItsRetryGoesLast", func(t *testing.T, h *harness) {
		h.webhook(t, ordered)
		a1, a2, a3 := h.keyed(t, "A"), h.keyed(t, "A"), h.keyed(t, "A")
		h.finish(t, h.claimOne(t), 500, hookd.OutcomeFailed) // schedule exhausted: final
		cs, got := h.claimByID(t, 10)
		diff(t, "after the head failed", got, []int64{a2.ID})
		rs, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{a1.ID}, CreatedBy: "admin"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(rs) != 1 || rs[0].OrderingKey != "A" {
			t.Fatalf("got retries %+v, want one with key A", rs)
		}
		h.finish(t, cs[a2.ID], 200, hookd.OutcomeDelivered)
		cs, got = h.claimByID(t, 10)
		diff(t, "the key goes on in order", got, []int64{a3.ID})
		h.finish(t, cs[a3.ID], 200, hookd.OutcomeDelivered)
		diff(t, "the retry comes last", claimIDs(h.claim(t, 10)), []int64{rs[0].ID})
	}},
	{"OrderedExpiredLeaseStillHeadsItsKey", func(t *testing.T, h *harness) {
		h.webhook(t, ordered)
		a1, _ := h.keyed(t, "A"), h.keyed(t, "A")
		h.claimOne(t)
		h.clock.Advance(lease + time.Second)
		diff(t, "claim after the lease expired", claimIDs(h.claim(t, 10)), []int64{a1.ID})
	}},
	{"UnorderedWebhookIgnoresKeys", func(t *testing.T, h *harness) {
		h.webhook(t)
		d1, d2, d3 := h.keyed(t, "A"), h.keyed(t, "A"), h.keyed(t, "A")
		for _, d := range []*hookd.Delivery{d1, d2, d3} {
			if d.OrderingKey != "" {
				t.Errorf("got key %q on a delivery to an unordered webhook, want none", d.OrderingKey)
			}
		}
		diff(t, "claim", claimIDs(h.claim(t, 10)), []int64{d1.ID, d2.ID, d3.ID})
	}},
	{"ReplayToAPausedOrderedWebhookIsHeldWithItsKey", func(t *testing.T, h *harness) {
		w := h.webhook(t, ordered)
		a1 := h.keyed(t, "A")
		h.finish(t, h.claimOne(t), 500, hookd.OutcomeFailed)
		h.pause(t, w, "", hookd.NeverProbe, 0)
		h.createReplay(t, replayParams(hookd.DeliveryFilter{WebhookID: &w.ID}))
		res := h.step(t, 100)
		if len(res.Items) != 1 || res.Items[0].NewDeliveryID == 0 {
			t.Fatalf("got step items %+v, want one retried", res.Items)
		}
		d := h.get(t, res.Items[0].NewDeliveryID)
		if d.State != held || d.OrderingKey != "A" || d.RetryOf != a1.ID {
			t.Errorf("got replayed delivery %s key %q retry of %d, want held, A, %d", d.State, d.OrderingKey, d.RetryOf, a1.ID)
		}
	}},
}
