package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// listHistory publishes deliveries over about nine hours to two webhooks, with every kind of
// last status, some retried into a later hour, some never attempted, and returns them as
// DeliveryGet reads them.
func (h *harness) listHistory(t testing.TB) []*hookd.Delivery {
	t.Helper()
	h.webhook(t)
	h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = "bbbbbbbb-0000-4000-8000-00000000000b" })
	statuses := []int{200, 500, 0, 404, 302, 204, 503, 100}
	var all []int64
	for i := range 32 {
		h.clock.Advance(17 * time.Minute)
		tr := trigFileCreated
		if i%3 == 0 {
			tr = trigFileUpdated
		}
		_, ds := h.publish(t, tr)
		all = append(all, ids(ds)...)
		if i%7 == 6 {
			continue // never attempted
		}
		for j, c := range h.claim(t, 10) {
			r := h.result(c, statuses[(i+j)%len(statuses)])
			if i%5 == 0 && r.Outcome == hookd.OutcomeRetry {
				r.NextAttemptAt = h.clock.Now().Add(40 * time.Minute) // delivered again in a later hour
			}
			h.record(t, r)
		}
	}
	h.clock.Advance(2 * time.Hour)
	for _, c := range h.claim(t, 100) { // the retries (and the never attempted: all due)
		if c.Delivery.Attempts > 0 {
			h.record(t, h.result(c, 200))
		} else if err := h.s.DeliveryRelease(h.ctx, []*hookd.Claim{c}); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
	}
	out := make([]*hookd.Delivery, 0, len(all))
	for _, id := range all {
		out = append(out, h.get(t, id))
	}
	return out
}

// matches is the reference for DeliveryList's filter: the contract's words, on deliveries
// as DeliveryGet reads them.
func matches(f hookd.DeliveryFilter, d *hookd.Delivery, webhooks map[int64]*hookd.Webhook) bool {
	w := webhooks[d.WebhookID]
	inRange := func(lo, hi *time.Time) bool {
		return d.DeliveredOn != nil && (lo == nil || !d.DeliveredOn.Before(*lo)) && (hi == nil || !d.DeliveredOn.After(*hi))
	}
	switch {
	case (f.DeliveryFrom != nil || f.DeliveryTo != nil) && !inRange(f.DeliveryFrom, f.DeliveryTo),
		f.HookURI != nil && w.URI != *f.HookURI,
		f.WebhookID != nil && d.WebhookID != *f.WebhookID,
		f.DeliveryID != nil && d.ID != *f.DeliveryID,
		f.CreatedBy != nil && w.CreatedBy != *f.CreatedBy,
		f.Trigger != 0 && d.Trigger != f.Trigger,
		f.MaxID != nil && d.ID > *f.MaxID,
		!f.GroupStatus.Includes(d.Status, d.Attempts):
		return false
	}
	return true
}

var listingTests = []test{
	{"ListTotalsAndPagesMatchTheFilterAcrossHours", func(t *testing.T, h *harness) {
		history := h.listHistory(t)
		ws, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		webhooks := map[int64]*hookd.Webhook{}
		for _, w := range ws {
			webhooks[w.ID] = w
		}
		w1, w2 := ws[0], ws[1]
		hour := func(n int, d time.Duration) *time.Time {
			return ptr(T0.Truncate(time.Hour).Add(time.Duration(n)*time.Hour + d))
		}
		mid := history[len(history)/2].ID
		dates := []struct{ from, to *time.Time }{
			{nil, nil},
			{hour(1, 0), hour(4, 0)}, // hour boundaries
			{hour(1, 20*time.Minute), hour(5, 40*time.Minute)},      // partial hours at both ends
			{hour(2, time.Minute), hour(2, 50*time.Minute)},         // within one hour
			{hour(3, -time.Microsecond), hour(4, time.Microsecond)}, // a microsecond into each side
			{hour(6, 0), nil},                            // from only
			{nil, hour(3, 30*time.Minute)},               // to only
			{hour(5, 0), hour(2, 0)},                     // from after to
			{ptr(time.Unix(-3600, 0).UTC()), hour(3, 0)}, // from before 1970
			{hour(-100, 0), hour(100, 0)},                // everything
		}
		others := []hookd.DeliveryFilter{
			{},
			{WebhookID: &w1.ID},
			{WebhookID: &w2.ID, GroupStatus: hookd.GroupStatus2xx},
			{GroupStatus: hookd.GroupStatusFailed},
			{GroupStatus: hookd.GroupStatusNotSent | hookd.GroupStatus4xx},
			{WebhookID: &w1.ID, GroupStatus: hookd.GroupStatus3xx | hookd.GroupStatus5xx | hookd.GroupStatusFailed},
			{Trigger: trigFileUpdated, CreatedBy: &w2.CreatedBy},
			{HookURI: &w1.URI, MaxID: &mid},
			{WebhookID: &w2.ID, MaxID: &mid, GroupStatus: hookd.GroupStatus2xx},
			{DeliveryID: &mid},
		}
		for _, dr := range dates {
			for _, o := range others {
				f := o
				f.DeliveryFrom, f.DeliveryTo = dr.from, dr.to
				var want []int64
				for _, d := range history {
					if matches(f, d, webhooks) {
						want = append(want, d.ID)
					}
				}
				want = desc(want)
				for _, page := range [][2]int{{0, 0}, {0, 5}, {3, 4}, {len(want) - 1, 10}, {len(want) + 2, 5}} {
					f.Offset, f.Limit = max(page[0], 0), page[1]
					h.checkPage(t, "", f, want)
				}
			}
		}
	}},
	{"ListTotalsFollowPruneAndWebhookDelete", func(t *testing.T, h *harness) {
		history := h.listHistory(t)
		before := h.clock.Now().Add(-5 * time.Hour)
		n := h.prune(t, before, 1000)
		if n == 0 {
			t.Fatalf("got nothing pruned, want the old finished deliveries")
		}
		_, total := h.list(t, hookd.DeliveryFilter{})
		if total != int64(len(history)-n) {
			t.Errorf("got total %d after pruning %d of %d, want %d", total, n, len(history), len(history)-n)
		}
		ws, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		_, kept := h.list(t, hookd.DeliveryFilter{WebhookID: &ws[1].ID})
		if _, err := h.s.WebhookDelete(h.ctx, ws[0].ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		for _, f := range []hookd.DeliveryFilter{{}, {GroupStatus: hookd.GroupStatus2xx | hookd.GroupStatusNotSent | hookd.GroupStatusFailed},
			{DeliveryFrom: ptr(T0), DeliveryTo: ptr(T0.Add(24 * time.Hour))}} {
			ds, total := h.list(t, f)
			var all int64
			if f.DeliveryFrom == nil && f.GroupStatus == 0 {
				all = kept
			} else {
				all = int64(len(ds))
			}
			if total != all || int64(len(ds)) != total {
				t.Errorf("filter %s after deleting a webhook: got total %d and %d rows, want %d", describe(f), total, len(ds), all)
			}
		}
	}},
}

// describe prints a filter for failure messages.
func describe(f hookd.DeliveryFilter) string {
	s := fmt.Sprintf("%+v", f)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", f.DeliveryFrom}, {"to", f.DeliveryTo}} {
		if p.t != nil {
			s += fmt.Sprintf(" %s=%s", p.name, p.t.Format(time.RFC3339Nano))
		}
	}
	return s
}

// checkPage lists f and fails the test unless the total is len(want) and the page is the part
// of want (all matches, newest first) that f.Offset and f.Limit select. what prefixes messages.
func (h *harness) checkPage(t *testing.T, what string, f hookd.DeliveryFilter, want []int64) {
	t.Helper()
	ds, total := h.list(t, f)
	if total != int64(len(want)) {
		t.Fatalf("%sfilter %s: got total %d, want %d", what, describe(f), total, len(want))
	}
	end := len(want)
	if f.Limit > 0 {
		end = min(end, f.Offset+f.Limit)
	}
	var wantPage []int64
	if f.Offset < len(want) {
		wantPage = want[f.Offset:end]
	}
	if got := ids(ds); !slices.Equal(got, wantPage) {
		t.Fatalf("%sfilter %s: got page %v, want %v", what, describe(f), got, wantPage)
	}
}
