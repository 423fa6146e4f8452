package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var attemptTests = []test{
	{"RecordDelivered", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		at := h.clock.Advance(3 * time.Second)
		r := h.result(h.claimOne(t), 200)
		h.record(t, r)
		end := at.Add(250 * time.Millisecond)
		want := *ds[0]
		want.State, want.Attempts, want.Status, want.DeliveredOn = hookd.DeliveryStateDelivered, 1, 200, &end
		wantAttempt := r.Attempt
		wantAttempt.Number = 1
		want.LastAttempt = &wantAttempt
		diff(t, "delivered delivery", h.get(t, ds[0].ID), &want, ignoreAttemptID)

		wantHook := *w
		wantHook.LastSuccessOn = &end
		diff(t, "webhook", h.getWebhook(t, w.ID), &wantHook, ignoreLastStatus)
		assertLastStatus(t, h, map[int64]int{w.ID: 200})
	}},
	{"RecordRetry", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		r := h.result(h.claimOne(t), 503)
		r.NextAttemptAt = T0.Add(5 * time.Second)
		h.record(t, r)
		end := T0.Add(250 * time.Millisecond)
		want := *ds[0]
		want.State, want.Attempts, want.Status, want.DeliveredOn = hookd.DeliveryStateRetrying, 1, 503, &end
		want.NextAttemptAt, want.LastError = r.NextAttemptAt, "status 503"
		wantAttempt := r.Attempt
		wantAttempt.Number = 1
		want.LastAttempt = &wantAttempt
		diff(t, "retrying delivery", h.get(t, ds[0].ID), &want, ignoreAttemptID)

		wantHook := *w
		wantHook.LastFailureOn, wantHook.LastFailureContent = &end, "status 503"
		diff(t, "webhook", h.getWebhook(t, w.ID), &wantHook, ignoreLastStatus)

		// A later success keeps the failure fields and adds the success.
		at := h.clock.Advance(5 * time.Second)
		h.record(t, h.result(h.claimOne(t), 200))
		end2 := at.Add(250 * time.Millisecond)
		wantHook.LastSuccessOn = &end2
		diff(t, "webhook after success", h.getWebhook(t, w.ID), &wantHook, ignoreLastStatus)
		d := h.get(t, ds[0].ID)
		if d.State != hookd.DeliveryStateDelivered || d.Attempts != 2 || d.LastError != "" || d.LastAttempt.Number != 2 {
			t.Errorf("got state %s attempts %d error %q last number %d, want delivered 2 \"\" 2",
				d.State, d.Attempts, d.LastError, d.LastAttempt.Number)
		}
	}},
	{"RecordFailedNoAnswer", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		r := h.result(h.claimOne(t), 0)
		r.Outcome, r.NextAttemptAt = hookd.OutcomeFailed, time.Time{}
		h.record(t, r)
		d := h.get(t, ds[0].ID)
		end := T0.Add(250 * time.Millisecond)
		if d.State != hookd.DeliveryStateFailed || d.Status != 0 || d.Attempts != 1 ||
			d.DeliveredOn == nil || !d.DeliveredOn.Equal(end) || d.LastError != "dial tcp: connection refused" {
			t.Errorf("got state %s status %d attempts %d deliveredOn %v error %q, want failed 0 1 %v %q",
				d.State, d.Status, d.Attempts, d.DeliveredOn, d.LastError, end, "dial tcp: connection refused")
		}
		if !d.NextAttemptAt.Equal(T0) {
			t.Errorf("got NextAttemptAt %v, want it unchanged at %v", d.NextAttemptAt, T0)
		}
		got := h.getWebhook(t, w.ID)
		if got.LastFailureOn == nil || !got.LastFailureOn.Equal(end) || got.LastSuccessOn != nil || !got.Enabled {
			t.Errorf("got lastFailureOn %v lastSuccessOn %v enabled %v, want %v nil true",
				got.LastFailureOn, got.LastSuccessOn, got.Enabled, end)
		}
	}},
	{"RecordStaleTokenKeepsAttemptOnly", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		c := h.claimOne(t)
		if err := h.s.DeliveryRelease(h.ctx, []*hookd.Claim{c}); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
		r := h.result(c, 410)
		r.Outcome, r.DisableWebhook = hookd.OutcomeFailed, "410 Gone"
		h.record(t, r)
		diff(t, "delivery after a stale record", h.get(t, ds[0].ID), ds[0])
		diff(t, "webhook after a stale record", h.getWebhook(t, w.ID), w, ignoreLastStatus)
		as, err := h.s.AttemptList(h.ctx, ds[0].ID)
		if err != nil {
			t.Fatalf("AttemptList: %v", err)
		}
		want := r.Attempt
		want.Number = 1
		diff(t, "attempts", as, []*hookd.Attempt{&want}, ignoreAttemptID)
	}},
	{"RecordDisablesWebhook", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		other := h.webhook(t)
		h.publish(t, trigFileCreated)
		cs := h.claim(t, 10)
		r := h.result(cs[0], 410)
		r.Outcome, r.NextAttemptAt, r.DisableWebhook = hookd.OutcomeFailed, time.Time{}, "The receiver answered 410 Gone."
		h.record(t, r, h.result(cs[1], 200))
		got := h.getWebhook(t, w.ID)
		if got.Enabled || got.DisabledReason != "The receiver answered 410 Gone." {
			t.Errorf("got enabled %v reason %q, want disabled with the reason", got.Enabled, got.DisabledReason)
		}
		if o := h.getWebhook(t, other.ID); !o.Enabled || o.DisabledReason != "" {
			t.Errorf("got other webhook enabled %v reason %q, want enabled", o.Enabled, o.DisabledReason)
		}
		_, ds := h.publish(t, trigFileCreated)
		diff(t, "webhooks receiving after the disable", webhookIDs(ds), []int64{other.ID})
	}},
	{"RecordBatchAppliesEachResult", func(t *testing.T, h *harness) {
		h.webhook(t)
		for range 4 {
			h.publish(t, trigFileCreated)
		}
		cs := h.claim(t, 10)
		failed := h.result(cs[2], 404)
		failed.Outcome, failed.NextAttemptAt = hookd.OutcomeFailed, time.Time{}
		h.record(t, h.result(cs[0], 200), h.result(cs[1], 500), failed, h.result(cs[3], 0))
		want := []struct {
			state  hookd.DeliveryState
			status int
		}{
			{hookd.DeliveryStateDelivered, 200}, {hookd.DeliveryStateRetrying, 500},
			{hookd.DeliveryStateFailed, 404}, {hookd.DeliveryStateRetrying, 0},
		}
		for i, c := range cs {
			d := h.get(t, c.Delivery.ID)
			if d.State != want[i].state || d.Status != want[i].status || d.Attempts != 1 || d.LeaseUntil != nil {
				t.Errorf("delivery %d: got %s %d attempts %d lease %v, want %s %d 1 nil",
					d.ID, d.State, d.Status, d.Attempts, d.LeaseUntil, want[i].state, want[i].status)
			}
		}
	}},
	{"RecordSkipsDeliveriesOfDeletedWebhooks", func(t *testing.T, h *harness) {
		gone := h.webhook(t)
		h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		cs := h.claim(t, 10)
		if _, err := h.s.WebhookDelete(h.ctx, gone.ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		h.record(t, h.result(cs[0], 200), h.result(cs[1], 200))
		if d := h.get(t, ds[1].ID); d.State != hookd.DeliveryStateDelivered {
			t.Errorf("got state %s for the surviving delivery, want delivered", d.State)
		}
		_, err := h.s.DeliveryGet(h.ctx, ds[0].ID)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"RecordRejectsInvalidResults", func(t *testing.T, h *harness) {
		h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		c := h.claimOne(t)
		noNext := h.result(c, 500)
		noNext.NextAttemptAt = time.Time{}
		noOutcome := h.result(c, 200)
		noOutcome.Outcome = 0
		for _, r := range []*hookd.AttemptResult{noNext, noOutcome} {
			wantCode(t, h.s.AttemptRecord(h.ctx, []*hookd.AttemptResult{h.result(c, 200), r}), hookd.EINVALID)
		}
		if d := h.get(t, ds[0].ID); d.State != hookd.DeliveryStateInflight || d.Attempts != 0 {
			t.Errorf("got state %s attempts %d after rejected batches, want inflight 0", d.State, d.Attempts)
		}
		if err := h.s.AttemptRecord(h.ctx, nil); err != nil {
			t.Errorf("AttemptRecord(nil): %v", err)
		}
	}},
	{"AttemptListFirstAttemptFirst", func(t *testing.T, h *harness) {
		h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		h.publish(t, trigFileCreated) // another delivery whose attempts must not show up
		var want []*hookd.Attempt
		for i, status := range []int{500, 0, 204} {
			cs := h.claim(t, 10)
			for _, c := range cs {
				r := h.result(c, status)
				r.Attempt.Duration = time.Duration(i+1) * time.Second
				h.record(t, r)
				if c.Delivery.ID == ds[0].ID {
					a := r.Attempt
					a.Number = i + 1
					want = append(want, &a)
				}
			}
			h.clock.Advance(time.Minute)
		}
		got, err := h.s.AttemptList(h.ctx, ds[0].ID)
		if err != nil {
			t.Fatalf("AttemptList: %v", err)
		}
		diff(t, "attempts", got, want, ignoreAttemptID)
		for i := 1; i < len(got); i++ {
			if got[i].ID == got[i-1].ID || got[i].ID == 0 {
				t.Errorf("got attempt ids %d and %d, want distinct non-zero", got[i-1].ID, got[i].ID)
			}
		}
		if d := h.get(t, ds[0].ID); d.LastAttempt == nil || d.LastAttempt.ID != got[2].ID {
			t.Errorf("got LastAttempt %+v, want attempt %d", d.LastAttempt, got[2].ID)
		}
		none, err := h.s.AttemptList(h.ctx, 987654)
		if err != nil {
			t.Fatalf("AttemptList of a missing delivery: %v", err)
		}
		if len(none) != 0 {
			t.Errorf("got %d attempts of a missing delivery, want 0", len(none))
		}
	}},
}

// reclaimed publishes one delivery, claims it, lets the lease expire and claims it again: it
// returns the delivery, the expired claim and the current one.
func (h *harness) reclaimed(t testing.TB) (*hookd.Delivery, *hookd.Claim, *hookd.Claim) {
	t.Helper()
	h.webhook(t)
	_, ds := h.publish(t, trigFileCreated)
	old := h.claimOne(t)
	h.clock.Advance(lease + time.Second)
	return ds[0], old, h.claimOne(t)
}

var attemptBatchTests = []test{
	{"RecordStaleAndCurrentAttemptsOfOneDeliveryInOneBatch", func(t *testing.T, h *harness) {
		d0, old, cur := h.reclaimed(t)
		// The current claim's success first, then the expired claim's failure: the delivery
		// keeps the success, both attempts are stored, numbered in order.
		stale := h.result(old, 500)
		h.record(t, h.result(cur, 200), stale)
		d := h.get(t, d0.ID)
		if d.State != hookd.DeliveryStateDelivered || d.Attempts != 1 || d.Status != 200 || d.LastAttempt.Number != 1 {
			t.Errorf("got %s attempts %d status %d last number %d, want delivered 1 200 1",
				d.State, d.Attempts, d.Status, d.LastAttempt.Number)
		}
		as, err := h.s.AttemptList(h.ctx, d0.ID)
		if err != nil {
			t.Fatalf("AttemptList: %v", err)
		}
		if len(as) != 2 || as[0].Number != 1 || as[0].Status != 200 || as[1].Number != 2 || as[1].Status != 500 {
			t.Fatalf("got attempts %+v, want 200 numbered 1 then 500 numbered 2", as)
		}
	}},
	{"RecordStaleThenCurrentNumbersAfterTheStale", func(t *testing.T, h *harness) {
		d0, old, cur := h.reclaimed(t)
		h.record(t, h.result(old, 500)) // history only
		r := h.result(cur, 503)
		r.NextAttemptAt = h.clock.Now()
		h.record(t, r)
		d := h.get(t, d0.ID)
		if d.State != hookd.DeliveryStateRetrying || d.Attempts != 1 || d.LastAttempt.Number != 2 || d.Status != 503 {
			t.Fatalf("got %s attempts %d last number %d status %d, want retrying 1 2 503",
				d.State, d.Attempts, d.LastAttempt.Number, d.Status)
		}
		h.record(t, h.result(h.claimOne(t), 200))
		if d := h.get(t, d0.ID); d.Attempts != 2 || d.LastAttempt.Number != 3 || d.State != hookd.DeliveryStateDelivered {
			t.Errorf("got attempts %d last number %d state %s, want 2 3 delivered", d.Attempts, d.LastAttempt.Number, d.State)
		}
	}},
	{"RecordLargeBatchAppliesEachResultInOrder", func(t *testing.T, h *harness) {
		w1, w2 := h.webhook(t), h.webhook(t)
		for range 50 {
			h.publish(t, trigFileCreated)
		}
		cs := h.claim(t, 100) // 100 deliveries, alternating webhooks
		if len(cs) != 100 {
			t.Fatalf("got %d claims, want 100", len(cs))
		}
		rs := make([]*hookd.AttemptResult, len(cs))
		want := map[int64]hookd.DeliveryState{}
		for i, c := range cs {
			status := 200
			if i%3 == 0 {
				status = 500
			}
			rs[i] = h.result(c, status)
			rs[i].Attempt.StartedAt = T0.Add(time.Duration(i) * time.Millisecond)
			want[c.Delivery.ID] = map[bool]hookd.DeliveryState{true: hookd.DeliveryStateDelivered, false: hookd.DeliveryStateRetrying}[status == 200]
		}
		h.record(t, rs...)
		for _, c := range cs {
			d := h.get(t, c.Delivery.ID)
			if d.State != want[d.ID] || d.Attempts != 1 || d.LastAttempt == nil || d.LastAttempt.Number != 1 {
				t.Errorf("delivery %d: got %s attempts %d, want %s 1 with its attempt", d.ID, d.State, d.Attempts, want[d.ID])
			}
		}
		// Each webhook keeps its last result of the batch, in order.
		for _, w := range []*hookd.Webhook{w1, w2} {
			var lastOK, lastFail *hookd.AttemptResult
			for _, r := range rs {
				if r.Attempt.DeliveryID != 0 && h.get(t, r.Attempt.DeliveryID).WebhookID == w.ID {
					if r.Attempt.Status == 200 {
						lastOK = r
					} else {
						lastFail = r
					}
				}
			}
			got := h.getWebhook(t, w.ID)
			okEnd := lastOK.Attempt.StartedAt.Add(lastOK.Attempt.Duration)
			failEnd := lastFail.Attempt.StartedAt.Add(lastFail.Attempt.Duration)
			if got.LastSuccessOn == nil || !got.LastSuccessOn.Equal(okEnd) || got.LastFailureOn == nil || !got.LastFailureOn.Equal(failEnd) {
				t.Errorf("webhook %d: got last success %v failure %v, want %v %v", w.ID, got.LastSuccessOn, got.LastFailureOn, okEnd, failEnd)
			}
		}
	}},
}
