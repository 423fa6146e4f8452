package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var retryTests = []test{
	{"RetryCreatesNewPendingDeliveries", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		ev, ds := h.publish(t, trigFileUpdated)
		orig := ds[0]
		h.record(t, h.result(h.claimOne(t), 200))
		at := h.clock.Advance(time.Hour)
		got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{orig.ID}, CreatedBy: "retrier"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("got %d new deliveries, want 1", len(got))
		}
		if got[0].ID <= orig.ID {
			t.Errorf("got new id %d, want above the original %d", got[0].ID, orig.ID)
		}
		want := &hookd.Delivery{ID: got[0].ID, WebhookID: w.ID, EventID: ev.ID, Trigger: trigFileUpdated,
			State: hookd.DeliveryStatePending, CreatedBy: "retrier", CreatedOn: at, NextAttemptAt: at,
			RetryOf: orig.ID, Event: ev, WebhookName: w.Name}
		diff(t, "retried delivery", got[0], want)
		diff(t, "stored retried delivery", h.get(t, got[0].ID), want)
		// The original is untouched.
		if o := h.get(t, orig.ID); o.State != hookd.DeliveryStateDelivered || o.Status != 200 || o.RetryOf != 0 {
			t.Errorf("got original state=%s status=%d retryOf=%d, want delivered 200 0", o.State, o.Status, o.RetryOf)
		}
		// The retry is due now.
		c := h.claimOne(t)
		if c.Delivery.ID != got[0].ID {
			t.Errorf("got claim of %d, want the retry %d", c.Delivery.ID, got[0].ID)
		}
	}},
	{"RetryKeepsOrderSkipsMissingAndRepeatsDuplicates", func(t *testing.T, h *harness) {
		h.webhook(t)
		_, d1 := h.publish(t, trigFileCreated)
		_, d2 := h.publish(t, trigFileCreated)
		a, b := d1[0].ID, d2[0].ID
		got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{b, 9999, a, b, -1, 0}, CreatedBy: "u"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		var retryOf []int64
		for _, d := range got {
			retryOf = append(retryOf, d.RetryOf)
		}
		diff(t, "RetryOf in order", retryOf, []int64{b, a, b})
		if !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) {
			t.Errorf("got new ids %v, want increasing in request order", ids(got))
		}
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 5 {
			t.Errorf("got %d deliveries, want 5", total)
		}
	}},
	{"RetryEmptyAndAllMissingReturnNothing", func(t *testing.T, h *harness) {
		for _, in := range [][]int64{nil, {}, {77, 78}} {
			got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: in, CreatedBy: "u"})
			if err != nil {
				t.Fatalf("DeliveryRetry(%v): %v", in, err)
			}
			if len(got) != 0 {
				t.Errorf("DeliveryRetry(%v): got %d deliveries, want 0", in, len(got))
			}
		}
	}},
	{"RetryRestrictedToWebhookCreator", func(t *testing.T, h *harness) {
		alice, bob := "aaaaaaaa-0000-4000-8000-0000000000a1", "bbbbbbbb-0000-4000-8000-0000000000b2"
		h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = alice })
		h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = bob })
		_, ds := h.publish(t, trigFileCreated)
		mine, theirs := ds[0].ID, ds[1].ID
		got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{
			IDs: []int64{theirs, mine}, CreatedBy: alice, WebhookCreatedBy: &alice})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(got) != 1 || got[0].RetryOf != mine {
			t.Fatalf("got %d deliveries (%+v), want one retry of %d", len(got), got, mine)
		}
		// Without the restriction (an admin), both are retried.
		got, err = h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{theirs, mine}, CreatedBy: "admin"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(got) != 2 {
			t.Errorf("got %d deliveries, want 2", len(got))
		}
	}},
	{"RetryIgnoresWebhookEnabled", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		if _, err := h.s.WebhookSetEnabled(h.ctx, w.ID, false, "", ""); err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{ds[0].ID}, CreatedBy: "u"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(got) != 1 {
			t.Errorf("got %d deliveries for a disabled webhook, want 1 (DocSpace does not check enabled)", len(got))
		}
	}},
	{"RetryOfDeletedWebhookIsSkipped", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		if _, err := h.s.WebhookDelete(h.ctx, w.ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		got, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{ds[0].ID}, CreatedBy: "u"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("got %d deliveries, want 0", len(got))
		}
	}},
}
