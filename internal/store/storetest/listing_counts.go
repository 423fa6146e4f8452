package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// listingCountTests check that DeliveryList's totals and pages follow every change a store
// keeps counters for: manual retries (new deliveries never attempted), their attempts in a
// later hour, holds and releases, partial prunes and webhook deletion.
var listingCountTests = []test{
	{"ListTotalsFollowRetriesHoldsPrunesAndDeletes", func(t *testing.T, h *harness) {
		history := h.listHistory(t)
		known := ids(history)
		ws, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		w1, w2 := ws[0], ws[1]
		h.checkListing(t, "history", known)

		retried, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{
			IDs: []int64{known[3], known[10], known[11], known[40], known[41]}, CreatedBy: "u"})
		if err != nil || len(retried) != 5 {
			t.Fatalf("DeliveryRetry: got %d, %v, want 5 deliveries", len(retried), err)
		}
		known = append(known, ids(retried)...)
		h.checkListing(t, "manual retries", known)

		h.clock.Advance(3 * time.Hour)
		for i, c := range h.claim(t, 100) {
			h.record(t, h.result(c, []int{503, 200, 0}[i%3]))
		}
		h.checkListing(t, "attempts three hours later", known)

		h.pause(t, w1, "", h.clock.Now().Add(time.Hour), 0)
		h.checkListing(t, "webhook paused", known)
		h.setHealth(t, hookd.WebhookHealthParams{ID: w1.ID, From: hookd.HealthPaused, To: hookd.HealthHealthy})
		h.checkListing(t, "webhook resumed", known)

		if n := h.prune(t, h.clock.Now().Add(-6*time.Hour), 7); n != 7 {
			t.Fatalf("got %d pruned, want 7", n)
		}
		h.checkListing(t, "pruned", known)

		if _, err := h.s.WebhookDelete(h.ctx, w2.ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		h.checkListing(t, "webhook deleted", known)
	}},
}

// checkListing compares DeliveryList, for a set of filters and overlapping pages, with the
// filter applied to the deliveries of known that still exist, as DeliveryGet reads them.
func (h *harness) checkListing(t *testing.T, step string, known []int64) {
	t.Helper()
	var all []*hookd.Delivery
	for _, id := range known {
		d, err := h.s.DeliveryGet(h.ctx, id)
		if hookd.ErrorCode(err) == hookd.ENOTFOUND {
			continue
		} else if err != nil {
			t.Fatalf("%s: DeliveryGet(%d): %v", step, id, err)
		}
		all = append(all, d)
	}
	ws, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
	if err != nil {
		t.Fatalf("%s: WebhookList: %v", step, err)
	}
	webhooks := map[int64]*hookd.Webhook{}
	for _, w := range ws {
		webhooks[w.ID] = w
	}
	hour := func(n int, d time.Duration) *time.Time {
		return ptr(T0.Truncate(time.Hour).Add(time.Duration(n)*time.Hour + d))
	}
	mid := all[len(all)/2].ID
	w := ws[len(ws)-1].ID
	dates := [][2]*time.Time{{nil, nil}, {hour(1, 25*time.Minute), hour(6, 10*time.Minute)}, {hour(4, 0), nil}, {nil, hour(5, 30*time.Minute)}}
	others := []hookd.DeliveryFilter{
		{},
		{WebhookID: &w},
		{GroupStatus: hookd.GroupStatusFailed},
		{GroupStatus: hookd.GroupStatusNotSent | hookd.GroupStatus2xx},
		{Trigger: trigFileCreated, MaxID: &mid},
	}
	for _, dr := range dates {
		for _, o := range others {
			f := o
			f.DeliveryFrom, f.DeliveryTo = dr[0], dr[1]
			var want []int64
			for _, d := range all {
				if matches(f, d, webhooks) {
					want = append(want, d.ID)
				}
			}
			want = desc(want)
			for offset := 0; offset <= len(want)+1; offset += 3 {
				f.Offset, f.Limit = offset, 4
				if offset == 0 {
					f.Limit = 0
				}
				h.checkPage(t, step+": ", f, want)
			}
		}
	}
}
