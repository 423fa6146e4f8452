package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hookd/hookd"
)

// ignoreAttemptID compares attempts without their store-assigned id.
var ignoreAttemptID = cmpopts.IgnoreFields(hookd.Attempt{}, "ID")

// logFixture is a small log: two webhooks of two creators, three events of three triggers,
// deliveries answered at different times with different statuses, two never tried.
type logFixture struct {
	alice, bob string
	a, b       *hookd.Webhook
	all        []*hookd.Delivery // as listed with no filter
	byID       map[int64]*hookd.Webhook
	firstEnd   time.Time // DeliveredOn of the first answered deliveries
	secondEnd  time.Time // DeliveredOn of the second answered deliveries
}

func newLogFixture(t *testing.T, h *harness) *logFixture {
	t.Helper()
	f := &logFixture{alice: "aaaaaaaa-0000-4000-8000-00000000000a", bob: "bbbbbbbb-0000-4000-8000-00000000000b"}
	f.a = h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy, w.URI = f.alice, "https://a.example/hook" })
	f.b = h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy, w.URI = f.bob, "https://b.example/hook" })
	f.byID = map[int64]*hookd.Webhook{f.a.ID: f.a, f.b.ID: f.b}
	for _, tr := range []hookd.Trigger{trigFileCreated, trigFileUpdated, trigUserCreated} {
		h.publish(t, tr)
		h.clock.Advance(time.Minute)
	}
	cs := h.claim(t, 10) // deliveries 1..6 in id order: (A,B) per event
	if len(cs) != 6 {
		t.Fatalf("got %d claims, want 6", len(cs))
	}
	h.record(t, h.result(cs[0], 200), h.result(cs[1], 503))
	f.firstEnd = h.clock.Now().Add(250 * time.Millisecond)
	h.clock.Advance(time.Minute)
	h.record(t, h.result(cs[2], 404), h.result(cs[3], 200))
	f.secondEnd = h.clock.Now().Add(250 * time.Millisecond)
	if err := h.s.DeliveryRelease(h.ctx, cs[4:]); err != nil {
		t.Fatalf("DeliveryRelease: %v", err)
	}
	f.all, _ = h.list(t, hookd.DeliveryFilter{})
	if len(f.all) != 6 {
		t.Fatalf("got %d deliveries, want 6", len(f.all))
	}
	return f
}

// filterCase is a DeliveryFilter and the same selection written in Go.
type filterCase struct {
	name   string
	filter hookd.DeliveryFilter
	keep   func(d *hookd.Delivery, w *hookd.Webhook) bool
}

func (f *logFixture) filterCases() []filterCase {
	delivered := func(d *hookd.Delivery) bool { return d.DeliveredOn != nil }
	third := f.all[2].ID // some id in the middle
	return []filterCase{
		{"DeliveryFrom", hookd.DeliveryFilter{DeliveryFrom: &f.secondEnd},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool {
				return delivered(d) && !d.DeliveredOn.Before(f.secondEnd)
			}},
		{"DeliveryToInclusive", hookd.DeliveryFilter{DeliveryTo: &f.firstEnd},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool {
				return delivered(d) && !d.DeliveredOn.After(f.firstEnd)
			}},
		{"DeliveryFromBeforeAll", hookd.DeliveryFilter{DeliveryFrom: &T0},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return delivered(d) }},
		{"HookURI", hookd.DeliveryFilter{HookURI: &f.a.URI},
			func(_ *hookd.Delivery, w *hookd.Webhook) bool { return w.URI == f.a.URI }},
		{"WebhookID", hookd.DeliveryFilter{WebhookID: &f.b.ID},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.WebhookID == f.b.ID }},
		{"DeliveryID", hookd.DeliveryFilter{DeliveryID: &third},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.ID == third }},
		{"CreatedBy", hookd.DeliveryFilter{CreatedBy: &f.bob},
			func(_ *hookd.Delivery, w *hookd.Webhook) bool { return w.CreatedBy == f.bob }},
		{"Trigger", hookd.DeliveryFilter{Trigger: trigFileUpdated},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.Trigger == trigFileUpdated }},
		{"MaxID", hookd.DeliveryFilter{MaxID: &third},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.ID <= third }},
		{"GroupStatus", hookd.DeliveryFilter{GroupStatus: hookd.GroupStatus2xx},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.Status/100 == 2 }},
		{"CreatorAndFailures", hookd.DeliveryFilter{CreatedBy: &f.alice, GroupStatus: hookd.GroupStatus4xx | hookd.GroupStatus5xx},
			func(d *hookd.Delivery, w *hookd.Webhook) bool { return w.CreatedBy == f.alice && d.Status >= 400 }},
		{"TriggerAndURI", hookd.DeliveryFilter{Trigger: trigFileCreated, HookURI: &f.b.URI},
			func(d *hookd.Delivery, w *hookd.Webhook) bool {
				return d.Trigger == trigFileCreated && w.URI == f.b.URI
			}},
		{"DeliveryRangeAndWebhook", hookd.DeliveryFilter{DeliveryFrom: &f.firstEnd, DeliveryTo: &f.secondEnd, WebhookID: &f.a.ID},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.WebhookID == f.a.ID && delivered(d) }},
		{"NotSentAndMaxID", hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusNotSent, MaxID: &f.all[0].ID},
			func(d *hookd.Delivery, _ *hookd.Webhook) bool { return d.Status == 0 && d.ID <= f.all[0].ID }},
	}
}

// groupStatusCases are the GroupStatus values checked against GroupStatus.Includes.
var groupStatusCases = []hookd.GroupStatus{
	0,
	hookd.GroupStatusNotSent, hookd.GroupStatus2xx, hookd.GroupStatus3xx, hookd.GroupStatus4xx, hookd.GroupStatus5xx,
	hookd.GroupStatusNotSent | hookd.GroupStatus2xx, hookd.GroupStatus4xx | hookd.GroupStatus5xx,
	hookd.GroupStatus3xx | hookd.GroupStatus4xx | hookd.GroupStatus5xx,
	hookd.GroupStatusNotSent | hookd.GroupStatus2xx | hookd.GroupStatus3xx | hookd.GroupStatus4xx | hookd.GroupStatus5xx,
	hookd.GroupStatusFailed, hookd.GroupStatusFailed | hookd.GroupStatus2xx, hookd.GroupStatusFailed | hookd.GroupStatusNotSent,
	hookd.GroupStatusFailed | hookd.GroupStatus5xx,
	32, // no defined bit: matches nothing
}

var listTests = []test{
	{"ListNewestFirstWithEventNameAndLastAttempt", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		ev1, _ := h.publish(t, trigFileCreated)
		h.record(t, h.result(h.claimOne(t), 500))
		h.clock.Advance(time.Minute)
		second := h.result(h.claimOne(t), 200)
		h.record(t, second)
		ev2, _ := h.publish(t, trigFileUpdated)
		renamed := *w
		renamed.Name = "renamed later"
		if _, err := h.s.WebhookUpdate(h.ctx, &renamed); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}

		ds, total := h.list(t, hookd.DeliveryFilter{})
		if total != 2 || len(ds) != 2 {
			t.Fatalf("got %d rows of total %d, want 2 of 2", len(ds), total)
		}
		if ds[0].ID <= ds[1].ID {
			t.Errorf("got ids %v, want newest first", ids(ds))
		}
		diff(t, "events", []*hookd.Event{ds[0].Event, ds[1].Event}, []*hookd.Event{ev2, ev1})
		for _, d := range ds {
			if d.WebhookName != "renamed later" {
				t.Errorf("got WebhookName %q, want the current name %q", d.WebhookName, "renamed later")
			}
		}
		if ds[0].LastAttempt != nil {
			t.Errorf("got LastAttempt %+v for a delivery never tried, want nil", ds[0].LastAttempt)
		}
		want := second.Attempt
		want.Number = 2
		diff(t, "LastAttempt", ds[1].LastAttempt, &want, ignoreAttemptID)
		diff(t, "DeliveryGet", h.get(t, ds[1].ID), ds[1])
	}},
	{"ListEachFilterAloneAndCombined", func(t *testing.T, h *harness) {
		f := newLogFixture(t, h)
		for _, tc := range f.filterCases() {
			var want []int64
			for _, d := range f.all {
				if tc.keep(d, f.byID[d.WebhookID]) {
					want = append(want, d.ID)
				}
			}
			if len(want) == 0 || len(want) == len(f.all) {
				t.Fatalf("%s: the fixture selects %d of %d rows; want a proper subset", tc.name, len(want), len(f.all))
			}
			got, total := h.list(t, tc.filter)
			diff(t, tc.name+" ids", ids(got), want)
			if total != int64(len(want)) {
				t.Errorf("%s: got total %d, want %d", tc.name, total, len(want))
			}
		}
	}},
	{"ListGroupStatusAgreesWithIncludes", func(t *testing.T, h *harness) {
		h.webhook(t)
		// One delivery per status; 0 with an attempt is "no answer", plus one never tried.
		statuses := []int{0, 150, 200, 204, 302, 404, 410, 500, 503}
		for range len(statuses) + 1 {
			h.publish(t, trigFileCreated)
		}
		cs := h.claim(t, 100)
		if len(cs) != len(statuses)+1 {
			t.Fatalf("got %d claims, want %d", len(cs), len(statuses)+1)
		}
		var rs []*hookd.AttemptResult
		for i, st := range statuses {
			rs = append(rs, h.result(cs[i], st))
		}
		h.record(t, rs...)
		if err := h.s.DeliveryRelease(h.ctx, cs[len(statuses):]); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
		all, _ := h.list(t, hookd.DeliveryFilter{})
		for _, g := range groupStatusCases {
			var want []int64
			for _, d := range all {
				if g.Includes(d.Status, d.Attempts) {
					want = append(want, d.ID)
				}
			}
			got, total := h.list(t, hookd.DeliveryFilter{GroupStatus: g})
			diff(t, fmt.Sprintf("GroupStatus %d ids", g), ids(got), want)
			if total != int64(len(want)) {
				t.Errorf("GroupStatus %d: got total %d, want %d", g, total, len(want))
			}
		}
	}},
	{"ListPagesWithTotalBeforePaging", func(t *testing.T, h *harness) {
		h.webhook(t)
		var all []int64
		for range 5 {
			_, ds := h.publish(t, trigFileCreated)
			all = append(all, ds[0].ID)
		}
		all = desc(all)
		for _, tc := range []struct {
			offset, limit int
			want          []int64
		}{
			{0, 2, all[0:2]},
			{2, 2, all[2:4]},
			{4, 2, all[4:5]},
			{5, 2, nil},
			{9, 0, nil},
			{1, 0, all[1:]},
			{0, 0, all},
			{0, 100, all},
		} {
			got, total := h.list(t, hookd.DeliveryFilter{Offset: tc.offset, Limit: tc.limit})
			diff(t, fmt.Sprintf("offset %d limit %d", tc.offset, tc.limit), ids(got), tc.want)
			if total != 5 {
				t.Errorf("offset %d limit %d: got total %d, want 5", tc.offset, tc.limit, total)
			}
		}
	}},
	{"ListMaxIDPinsWhileRowsArrive", func(t *testing.T, h *harness) {
		h.webhook(t)
		for range 3 {
			h.publish(t, trigFileCreated)
		}
		first, total := h.list(t, hookd.DeliveryFilter{Limit: 2})
		if total != 3 {
			t.Fatalf("got total %d, want 3", total)
		}
		pin := first[0].ID
		for range 2 {
			h.publish(t, trigFileCreated)
		}
		page2, total := h.list(t, hookd.DeliveryFilter{MaxID: &pin, Offset: 2, Limit: 2})
		if total != 3 {
			t.Errorf("got pinned total %d, want 3", total)
		}
		all, _ := h.list(t, hookd.DeliveryFilter{MaxID: &pin})
		diff(t, "pinned second page", ids(page2), ids(all)[2:])
		if _, total := h.list(t, hookd.DeliveryFilter{}); total != 5 {
			t.Errorf("got unpinned total %d, want 5", total)
		}
	}},
	{"ListRejectsNegativePaging", func(t *testing.T, h *harness) {
		_, _, err := h.s.DeliveryList(h.ctx, hookd.DeliveryFilter{Offset: -1})
		wantCode(t, err, hookd.EINVALID)
		_, _, err = h.s.DeliveryList(h.ctx, hookd.DeliveryFilter{Limit: -1})
		wantCode(t, err, hookd.EINVALID)
	}},
	{"DeliveryGetMissingIsNotFound", func(t *testing.T, h *harness) {
		_, err := h.s.DeliveryGet(h.ctx, 12345)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
}
