package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd"
)

// batchParams returns n valid events of trigFileCreated.
func batchParams(n int) []*hookd.EventPublishParams {
	ps := make([]*hookd.EventPublishParams, n)
	for i := range ps {
		ps[i] = &hookd.EventPublishParams{
			Trigger:   trigFileCreated,
			Payload:   json.RawMessage(fmt.Sprintf(`{"id":%d}`, i)),
			CreatedBy: "22222222-2222-4222-8222-222222222222",
			UserID:    "33333333-3333-4333-8333-333333333333",
		}
	}
	return ps
}

var batchTests = []test{
	{"PublishBatchInOrder", func(t *testing.T, h *harness) {
		w1 := h.webhook(t)
		w2 := h.webhook(t, ordered, func(w *hookd.Webhook) { w.Triggers = trigFileCreated | trigUserCreated })
		w3 := h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "42" })
		h.pause(t, w3, "", hookd.NeverProbe, 0)
		ps := batchParams(3)
		ps[0].OrderingKey = "doc-1"
		ps[1].Trigger, ps[1].TargetID = trigFileUpdated, "42"
		ps[2].Trigger, ps[2].OrderingKey = trigUserCreated, "doc-2"
		out, err := h.s.EventPublishBatch(h.ctx, ps)
		if err != nil {
			t.Fatalf("EventPublishBatch: %v", err)
		}
		if len(out) != 3 {
			t.Fatalf("got %d published events, want 3", len(out))
		}
		want := []struct {
			webhooks []int64
			keys     []string
			states   []hookd.DeliveryState
		}{
			{[]int64{w1.ID, w2.ID}, []string{"", "doc-1"}, []hookd.DeliveryState{pending, pending}},
			{[]int64{w1.ID, w3.ID}, []string{"", ""}, []hookd.DeliveryState{pending, held}},
			{[]int64{w1.ID, w2.ID}, []string{"", "doc-2"}, []hookd.DeliveryState{pending, pending}},
		}
		for i, p := range out {
			ev := p.Event
			wantEv := &hookd.Event{ID: ev.ID, Trigger: ps[i].Trigger, Payload: ps[i].Payload, TargetID: ps[i].TargetID,
				OrderingKey: ps[i].OrderingKey, CreatedBy: ps[i].CreatedBy, CreatedOn: T0}
			diff(t, fmt.Sprintf("event %d", i), ev, wantEv)
			if i > 0 && ev.ID <= out[i-1].Event.ID {
				t.Errorf("got event ids %d then %d, want increasing in batch order", out[i-1].Event.ID, ev.ID)
			}
			diff(t, fmt.Sprintf("webhooks of event %d", i), webhookIDs(p.Deliveries), want[i].webhooks)
			for j, d := range p.Deliveries {
				wantD := &hookd.Delivery{ID: d.ID, WebhookID: want[i].webhooks[j], EventID: ev.ID, Trigger: ps[i].Trigger,
					State: want[i].states[j], CreatedBy: ps[i].UserID, CreatedOn: T0, NextAttemptAt: T0,
					OrderingKey: want[i].keys[j], Event: wantEv, WebhookName: h.getWebhook(t, want[i].webhooks[j]).Name}
				diff(t, "published delivery", d, wantD)
				diff(t, "stored delivery", h.get(t, d.ID), wantD)
			}
		}
	}},
	{"PublishBatchInvalidEventStoresNothing", func(t *testing.T, h *harness) {
		h.webhook(t)
		for name, spoil := range map[string]func(*hookd.EventPublishParams){
			"trigger": func(p *hookd.EventPublishParams) { p.Trigger = trigFileCreated | trigFileUpdated },
			"payload": func(p *hookd.EventPublishParams) { p.Payload = json.RawMessage(`{"id":`) },
		} {
			ps := batchParams(5)
			spoil(ps[3])
			out, err := h.s.EventPublishBatch(h.ctx, ps)
			wantCode(t, err, hookd.EINVALID)
			if msg := hookd.ErrorMessage(err); !strings.Contains(msg, "events[3]") {
				t.Errorf("bad %s: got message %q, want it to name events[3]", name, msg)
			}
			if len(out) != 0 {
				t.Errorf("bad %s: got %d published, want none", name, len(out))
			}
		}
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 0 {
			t.Errorf("got %d deliveries after rejected batches, want 0", total)
		}
	}},
	{"PublishBatchSizeLimits", func(t *testing.T, h *harness) {
		out, err := h.s.EventPublishBatch(h.ctx, nil)
		if err != nil || len(out) != 0 {
			t.Fatalf("empty batch: got %d published and %v, want nothing", len(out), err)
		}
		h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "somebody" })
		ps := batchParams(hookd.MaxPublishBatch + 1)
		for _, p := range ps {
			p.TargetID = "somebody"
		}
		_, err = h.s.EventPublishBatch(h.ctx, ps)
		wantCode(t, err, hookd.EINVALID)
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 0 {
			t.Errorf("got %d deliveries after a refused batch, want 0", total)
		}
		// Events of another target: stored without deliveries, so the largest batch is cheap.
		ps = ps[:hookd.MaxPublishBatch]
		for _, p := range ps {
			p.TargetID = "nobody"
		}
		out, err = h.s.EventPublishBatch(h.ctx, ps)
		if err != nil {
			t.Fatalf("EventPublishBatch of %d: %v", hookd.MaxPublishBatch, err)
		}
		if len(out) != hookd.MaxPublishBatch || out[0].Event.ID >= out[len(out)-1].Event.ID {
			t.Fatalf("got %d published, want %d in order", len(out), hookd.MaxPublishBatch)
		}
	}},
}

var concurrentPublishTests = []test{
	{"PublishConcurrentCallersGetTheirOwnResults", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		const callers, each = 16, 5
		type result struct {
			payload string
			ev      *hookd.Event
			ds      []*hookd.Delivery
			err     error
		}
		results := make(chan result, callers*each)
		var wg sync.WaitGroup
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					r := result{payload: fmt.Sprintf(`{"caller":%d,"i":%d}`, c, i)}
					p := &hookd.EventPublishParams{Trigger: trigFileCreated, Payload: json.RawMessage(r.payload)}
					if i == 2 && c%4 == 0 {
						p.Trigger = 0 // invalid: fails alone
					}
					r.ev, r.ds, r.err = h.s.EventPublish(h.ctx, p)
					results <- r
				}
			}()
		}
		wg.Wait()
		close(results)
		events := map[int64]bool{}
		var ok, invalid int
		for r := range results {
			if r.err != nil {
				wantCode(t, r.err, hookd.EINVALID)
				invalid++
				continue
			}
			ok++
			if string(r.ev.Payload) != r.payload || events[r.ev.ID] {
				t.Errorf("got event %d with payload %s, want a new event with %s", r.ev.ID, r.ev.Payload, r.payload)
			}
			events[r.ev.ID] = true
			if len(r.ds) != 1 || r.ds[0].EventID != r.ev.ID || r.ds[0].WebhookID != w.ID {
				t.Fatalf("got deliveries %+v for event %d, want one of it to webhook %d", r.ds, r.ev.ID, w.ID)
			}
			if got := h.get(t, r.ds[0].ID); string(got.Event.Payload) != r.payload {
				t.Errorf("got stored payload %s, want %s", got.Event.Payload, r.payload)
			}
		}
		if want := callers / 4; invalid != want || ok != callers*each-want {
			t.Errorf("got %d published and %d invalid, want %d and %d", ok, invalid, callers*each-want, want)
		}
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != int64(ok) {
			t.Errorf("got %d deliveries stored, want %d", total, ok)
		}
	}},
}
