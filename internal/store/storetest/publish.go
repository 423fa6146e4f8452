package storetest

import (
	"encoding/json"
	"testing"

	"github.com/hookd/hookd"
)

// webhookIDs returns the webhook ids of deliveries, in their order.
func webhookIDs(ds []*hookd.Delivery) []int64 {
	out := make([]int64, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.WebhookID)
	}
	return out
}

var publishTests = []test{
	{"PublishReturnsEventAndPendingDeliveries", func(t *testing.T, h *harness) {
		w1 := h.webhook(t)
		w2 := h.webhook(t)
		p := &hookd.EventPublishParams{
			Trigger:   trigFileCreated,
			Payload:   json.RawMessage(`{"id":42,"title":"caf\u00e9 & <b>","nested":{"b":2,"a":1}}`),
			TargetID:  "42",
			CreatedBy: "cccccccc-0000-4000-8000-000000000001",
			UserID:    "dddddddd-0000-4000-8000-000000000002",
		}
		ev, ds, err := h.s.EventPublish(h.ctx, p)
		if err != nil {
			t.Fatalf("EventPublish: %v", err)
		}
		if ev.ID <= 0 {
			t.Fatalf("got event ID %d, want > 0", ev.ID)
		}
		wantEv := &hookd.Event{ID: ev.ID, Trigger: p.Trigger, Payload: p.Payload, TargetID: "42",
			CreatedBy: p.CreatedBy, CreatedOn: T0}
		diff(t, "event", ev, wantEv)
		if len(ds) != 2 {
			t.Fatalf("got %d deliveries, want 2", len(ds))
		}
		for i, w := range []*hookd.Webhook{w1, w2} {
			d := ds[i]
			want := &hookd.Delivery{ID: d.ID, WebhookID: w.ID, EventID: ev.ID, Trigger: trigFileCreated,
				State: hookd.DeliveryStatePending, CreatedBy: p.UserID, CreatedOn: T0, NextAttemptAt: T0,
				Event: wantEv, WebhookName: w.Name}
			diff(t, "published delivery", d, want)
			// The stored row reads back the same, payload byte for byte.
			diff(t, "stored delivery", h.get(t, d.ID), want)
		}
		if ds[0].ID == ds[1].ID {
			t.Errorf("got equal delivery ids %d, want distinct", ds[0].ID)
		}
	}},
	{"PublishMaskZeroMatchesEveryTrigger", func(t *testing.T, h *harness) {
		all := h.webhook(t)
		for _, tr := range []hookd.Trigger{trigUserCreated, trigFileCreated, hookd.Trigger(1 << 35)} {
			_, ds := h.publish(t, tr)
			diff(t, "webhooks of "+tr.Name(), webhookIDs(ds), []int64{all.ID})
		}
	}},
	{"PublishMaskBitsSelectWebhooks", func(t *testing.T, h *harness) {
		files := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigFileCreated | trigFileUpdated })
		users := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigUserCreated })
		high := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = hookd.Trigger(1<<34) | hookd.Trigger(1<<35) })
		all := h.webhook(t)
		for _, tc := range []struct {
			tr   hookd.Trigger
			want []int64
		}{
			{trigFileCreated, []int64{files.ID, all.ID}},
			{trigFileUpdated, []int64{files.ID, all.ID}},
			{trigUserCreated, []int64{users.ID, all.ID}},
			{hookd.Trigger(1 << 35), []int64{high.ID, all.ID}},
			{hookd.Trigger(1 << 10), []int64{all.ID}},
		} {
			_, ds := h.publish(t, tc.tr)
			diff(t, "webhooks of "+tc.tr.Name(), webhookIDs(ds), tc.want)
		}
	}},
	{"PublishTargetIDRestrictsWebhook", func(t *testing.T, h *harness) {
		every := h.webhook(t)
		only42 := h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "42" })
		for _, tc := range []struct {
			target string
			want   []int64
		}{
			{"42", []int64{every.ID, only42.ID}},
			{"43", []int64{every.ID}},
			{"420", []int64{every.ID}},
			{"", []int64{every.ID}},
		} {
			_, ds := h.publish(t, trigFileCreated, func(p *hookd.EventPublishParams) { p.TargetID = tc.target })
			diff(t, "webhooks of target "+tc.target, webhookIDs(ds), tc.want)
		}
	}},
	{"PublishSkipsDisabledWebhooks", func(t *testing.T, h *harness) {
		on := h.webhook(t)
		off := h.webhook(t, func(w *hookd.Webhook) { w.Enabled = false })
		later := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		diff(t, "webhooks", webhookIDs(ds), []int64{on.ID, later.ID})
		if _, err := h.s.WebhookSetEnabled(h.ctx, on.ID, false, "", ""); err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		if _, err := h.s.WebhookSetEnabled(h.ctx, off.ID, true, "", ""); err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		_, ds = h.publish(t, trigFileCreated)
		diff(t, "webhooks after switching", webhookIDs(ds), []int64{off.ID, later.ID})
	}},
	{"PublishWithoutMatchStoresEventOnly", func(t *testing.T, h *harness) {
		h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigUserCreated })
		ev, ds := h.publish(t, trigFileCreated)
		if ev.ID <= 0 {
			t.Errorf("got event ID %d, want > 0", ev.ID)
		}
		if len(ds) != 0 {
			t.Errorf("got %d deliveries, want 0", len(ds))
		}
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 0 {
			t.Errorf("got %d listed deliveries, want 0", total)
		}
	}},
	{"PublishRejectsInvalidTriggerAndPayload", func(t *testing.T, h *harness) {
		h.webhook(t)
		for _, p := range []*hookd.EventPublishParams{
			{Trigger: 0, Payload: json.RawMessage(`{}`)},
			{Trigger: trigFileCreated | trigFileUpdated, Payload: json.RawMessage(`{}`)},
			{Trigger: trigFileCreated, Payload: json.RawMessage(`{"a":`)},
		} {
			_, _, err := h.s.EventPublish(h.ctx, p)
			wantCode(t, err, hookd.EINVALID)
		}
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 0 {
			t.Errorf("got %d deliveries after rejected publishes, want 0", total)
		}
	}},
}
