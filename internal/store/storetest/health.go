package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// setHealth runs WebhookHealthSet and fails the test on error.
func (h *harness) setHealth(t testing.TB, p hookd.WebhookHealthParams) (*hookd.Webhook, bool) {
	t.Helper()
	w, ok, err := h.s.WebhookHealthSet(h.ctx, &p)
	if err != nil {
		t.Fatalf("WebhookHealthSet(%+v): %v", p, err)
	}
	return w, ok
}

// pause moves webhook w from health from to paused, and fails the test unless it moved.
func (h *harness) pause(t testing.TB, w *hookd.Webhook, from hookd.WebhookHealth, probeAt time.Time, probes int) *hookd.Webhook {
	t.Helper()
	got, ok := h.setHealth(t, hookd.WebhookHealthParams{
		ID: w.ID, From: from, To: hookd.HealthPaused, Reason: "20 failures in a row", ProbeAt: probeAt, Probes: probes,
	})
	if !ok {
		t.Fatalf("WebhookHealthSet %s → paused: got no change, webhook is %q", from, got.Health)
	}
	return got
}

// probeDue runs WebhookProbeDue and returns the ids of the webhooks probed, in id order.
func (h *harness) probeDue(t testing.TB, lease time.Duration) []int64 {
	t.Helper()
	ws, err := h.s.WebhookProbeDue(h.ctx, lease)
	if err != nil {
		t.Fatalf("WebhookProbeDue: %v", err)
	}
	out := make([]int64, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ID)
	}
	slices.Sort(out)
	return out
}

// states returns the stored state of each delivery.
func (h *harness) states(t testing.TB, ids ...int64) []hookd.DeliveryState {
	t.Helper()
	out := make([]hookd.DeliveryState, 0, len(ids))
	for _, id := range ids {
		out = append(out, h.get(t, id).State)
	}
	return out
}

const (
	held     = hookd.DeliveryStateHeld
	pending  = hookd.DeliveryStatePending
	retrying = hookd.DeliveryStateRetrying
	inflight = hookd.DeliveryStateInflight
)

var healthTests = []test{
	{"HealthOfNewWebhookIsHealthy", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		for _, got := range []*hookd.Webhook{w, h.getWebhook(t, w.ID)} {
			if got.State() != hookd.HealthHealthy || got.HealthReason != "" || got.HealthSince != nil ||
				got.ProbeAt != nil || got.Probes != 0 {
				t.Errorf("got health %q reason %q since %v probe at %v probes %d, want healthy, none, nil, nil, 0",
					got.Health, got.HealthReason, got.HealthSince, got.ProbeAt, got.Probes)
			}
		}
	}},
	{"HealthSetIsCompareAndSet", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		at := h.clock.Advance(time.Minute)
		got, ok := h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: "", To: hookd.HealthDegraded, Reason: "5 failures in a row"})
		if !ok {
			t.Fatalf("healthy → degraded from \"\": got no change, want one")
		}
		want := *w
		want.Health, want.HealthReason, want.HealthSince = hookd.HealthDegraded, "5 failures in a row", &at
		diff(t, "degraded webhook", got, &want, ignoreLastStatus)
		diff(t, "WebhookGet", h.getWebhook(t, w.ID), &want, ignoreLastStatus)

		// Someone moved it first: a caller that still sees healthy changes nothing.
		h.clock.Advance(time.Minute)
		cur, ok := h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthHealthy, To: hookd.HealthPaused,
			Reason: "stale", ProbeAt: h.clock.Now().Add(time.Minute)})
		if ok {
			t.Fatalf("stale healthy → paused: got a change, want none")
		}
		diff(t, "current webhook after a stale change", cur, &want, ignoreLastStatus)
		diff(t, "WebhookGet after a stale change", h.getWebhook(t, w.ID), &want, ignoreLastStatus)

		// Only the reason changes: HealthSince stays.
		h.clock.Advance(time.Minute)
		got, ok = h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthDegraded, To: hookd.HealthDegraded, Reason: "60 % failed"})
		want.HealthReason = "60 % failed"
		if !ok {
			t.Fatalf("degraded → degraded: got no change, want one")
		}
		diff(t, "degraded webhook with a new reason", got, &want, ignoreLastStatus)

		// Back to healthy: the state changes, HealthSince moves; "" matches healthy again.
		at = h.clock.Advance(time.Minute)
		got, ok = h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthDegraded, To: hookd.HealthHealthy})
		if !ok || got.State() != hookd.HealthHealthy || got.HealthSince == nil || !got.HealthSince.Equal(at) {
			t.Fatalf("degraded → healthy: got change %v, health %q since %v, want true, healthy since %v",
				ok, got.Health, got.HealthSince, at)
		}
		if _, ok := h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: "", To: hookd.HealthDegraded, Reason: "x"}); !ok {
			t.Errorf("healthy → degraded from \"\": got no change, want one")
		}
	}},
	{"HealthSetRejectsMissingAndUnknown", func(t *testing.T, h *harness) {
		_, _, err := h.s.WebhookHealthSet(h.ctx, &hookd.WebhookHealthParams{ID: 999, From: hookd.HealthHealthy, To: hookd.HealthDegraded})
		wantCode(t, err, hookd.ENOTFOUND)
		w := h.webhook(t)
		for _, to := range []hookd.WebhookHealth{"", hookd.HealthDisabled, "sleepy"} {
			_, _, err := h.s.WebhookHealthSet(h.ctx, &hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthHealthy, To: to})
			wantCode(t, err, hookd.EINVALID)
		}
		if got := h.getWebhook(t, w.ID); got.State() != hookd.HealthHealthy {
			t.Errorf("got health %q after rejected changes, want healthy", got.Health)
		}
	}},
	{"PauseHoldsWaitingDeliveriesAndAFailedProbeAgain", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		h.webhook(t)             // another webhook, never paused
		var mine, theirs []int64 // the two webhooks' deliveries of three events
		for range 3 {
			_, ds := h.publish(t, trigFileCreated)
			mine, theirs = append(mine, ds[0].ID), append(theirs, ds[1].ID)
		}
		byID := map[int64]*hookd.Claim{}
		for _, c := range h.claim(t, 10) {
			byID[c.Delivery.ID] = c
		}
		// w: retrying due in a second, pending again, still in flight; o: all delivered.
		r := h.result(byID[mine[0]], 500)
		r.NextAttemptAt = h.clock.Now().Add(time.Second)
		h.record(t, r)
		if err := h.s.DeliveryRelease(h.ctx, []*hookd.Claim{byID[mine[1]]}); err != nil {
			t.Fatalf("DeliveryRelease: %v", err)
		}
		for _, id := range theirs {
			h.record(t, h.result(byID[id], 200))
		}

		at := h.clock.Advance(time.Second)
		probeAt := at.Add(5 * time.Second)
		got := h.pause(t, w, hookd.HealthHealthy, probeAt, 0)
		if got.Health != hookd.HealthPaused || got.HealthReason != "20 failures in a row" || got.Probes != 0 ||
			got.ProbeAt == nil || !got.ProbeAt.Equal(probeAt) || got.HealthSince == nil || !got.HealthSince.Equal(at) {
			t.Errorf("got health %q reason %q probe at %v probes %d since %v, want paused, the reason, %v, 0, %v",
				got.Health, got.HealthReason, got.ProbeAt, got.Probes, got.HealthSince, probeAt, at)
		}
		diff(t, "states after the pause", h.states(t, mine...), []hookd.DeliveryState{held, held, inflight})
		if d := h.get(t, mine[0]); !d.NextAttemptAt.Equal(r.NextAttemptAt) {
			t.Errorf("got held NextAttemptAt %v, want it unchanged %v", d.NextAttemptAt, r.NextAttemptAt)
		}
		h.clock.Advance(2 * time.Second) // both held deliveries are past due
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Fatalf("got %d claims (first %d), want none: held deliveries are never claimed", len(cs), cs[0].Delivery.ID)
		}
		diff(t, "stats while paused", h.stats(t), hookd.DeliveryStats{Held: 2, Inflight: 1})
		if b := h.stats(t); b.Backlog() != 3 {
			t.Errorf("got backlog %d, want 3 (held deliveries count)", b.Backlog())
		}

		// The in-flight one was the probe and failed: pausing again holds it, keeps
		// HealthSince and writes the new backoff.
		h.record(t, h.result(byID[mine[2]], 503))
		next := h.clock.Advance(time.Second).Add(10 * time.Second)
		got = h.pause(t, w, hookd.HealthPaused, next, 1)
		if got.Probes != 1 || !got.ProbeAt.Equal(next) || !got.HealthSince.Equal(at) {
			t.Errorf("got probes %d probe at %v since %v, want 1, %v, %v", got.Probes, got.ProbeAt, got.HealthSince, next, at)
		}
		diff(t, "states after the failed probe", h.states(t, mine...), []hookd.DeliveryState{held, held, held})
	}},
	{"ResumeReleasesHeldDeliveries", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, d1 := h.publish(t, trigFileCreated)
		_, d2 := h.publish(t, trigFileCreated)
		r := h.result(h.claimOne(t), 500)
		r.NextAttemptAt = T0.Add(10 * time.Minute)
		h.record(t, r)
		h.pause(t, w, "", T0.Add(time.Minute), 3)
		at := h.clock.Advance(time.Minute)
		got, ok := h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthPaused, To: hookd.HealthHealthy})
		if !ok || got.State() != hookd.HealthHealthy || got.ProbeAt != nil || got.Probes != 0 || !got.HealthSince.Equal(at) {
			t.Fatalf("paused → healthy: got change %v, health %q probe at %v probes %d since %v, want true, healthy, nil, 0, %v",
				ok, got.Health, got.ProbeAt, got.Probes, got.HealthSince, at)
		}
		a, b := h.get(t, d1[0].ID), h.get(t, d2[0].ID)
		if a.State != retrying || !a.NextAttemptAt.Equal(r.NextAttemptAt) {
			t.Errorf("got attempted delivery %s due %v, want retrying due %v", a.State, a.NextAttemptAt, r.NextAttemptAt)
		}
		if b.State != pending || !b.NextAttemptAt.Equal(T0) {
			t.Errorf("got never attempted delivery %s due %v, want pending due %v", b.State, b.NextAttemptAt, T0)
		}
		diff(t, "claimed after the resume", claimIDs(h.claim(t, 10)), []int64{b.ID})
	}},
	{"EnableResumesAPausedWebhook", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		h.pause(t, w, "", hookd.NeverProbe, 2)
		off, err := h.s.WebhookSetEnabled(h.ctx, w.ID, false, "admin", "")
		if err != nil {
			t.Fatalf("WebhookSetEnabled(false): %v", err)
		}
		if off.State() != hookd.HealthDisabled || off.Health != hookd.HealthPaused {
			t.Errorf("got state %q health %q after disabling, want disabled, paused", off.State(), off.Health)
		}
		diff(t, "state while disabled", h.states(t, ds[0].ID), []hookd.DeliveryState{held})
		// A disabled webhook's health can still be changed.
		if _, ok := h.setHealth(t, hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthPaused, To: hookd.HealthPaused,
			Reason: "by hand", ProbeAt: hookd.NeverProbe, Probes: 2}); !ok {
			t.Fatalf("paused → paused on a disabled webhook: got no change, want one")
		}

		at := h.clock.Advance(time.Minute)
		on, err := h.s.WebhookSetEnabled(h.ctx, w.ID, true, "admin", "")
		if err != nil {
			t.Fatalf("WebhookSetEnabled(true): %v", err)
		}
		for _, got := range []*hookd.Webhook{on, h.getWebhook(t, w.ID)} {
			if got.State() != hookd.HealthHealthy || got.HealthReason != "" || got.ProbeAt != nil || got.Probes != 0 ||
				got.HealthSince == nil || !got.HealthSince.Equal(at) {
				t.Errorf("got health %q reason %q probe at %v probes %d since %v after enabling, want healthy, none, nil, 0, %v",
					got.Health, got.HealthReason, got.ProbeAt, got.Probes, got.HealthSince, at)
			}
		}
		diff(t, "claimed after enabling", claimIDs(h.claim(t, 10)), ids(ds))
	}},
	{"ProbeDueReleasesTheOldestHeldOncePerLease", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		elsewhere := func(w *hookd.Webhook) { w.TargetID = "elsewhere" } // no delivery of these tests' events
		never, off := h.webhook(t, elsewhere), h.webhook(t, elsewhere)
		h.webhook(t, elsewhere)                // healthy: never probed
		_, d1 := h.publish(t, trigFileCreated) // T0, then retrying due T0+30s
		r := h.result(h.claimOne(t), 500)
		r.NextAttemptAt = T0.Add(30 * time.Second)
		h.record(t, r)
		h.clock.Advance(time.Second)
		_, d2 := h.publish(t, trigFileCreated) // due T0+1s
		h.clock.Advance(time.Second)
		_, d3 := h.publish(t, trigFileCreated) // due T0+2s
		// Held order (NextAttemptAt, id): d2, d3, d1; id order would be d1, d2, d3.
		h.pause(t, w, "", T0.Add(5*time.Second), 0)
		h.pause(t, never, "", hookd.NeverProbe, 0)
		h.pause(t, off, "", T0, 0)
		if _, err := h.s.WebhookSetEnabled(h.ctx, off.ID, false, "admin", ""); err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}

		if got := h.probeDue(t, lease); len(got) != 0 {
			t.Fatalf("got probes %v before ProbeAt, want none", got)
		}
		at := h.clock.Advance(3 * time.Second) // T0+5s: w's probe is due
		ws, err := h.s.WebhookProbeDue(h.ctx, lease)
		if err != nil {
			t.Fatalf("WebhookProbeDue: %v", err)
		}
		if len(ws) != 1 || ws[0].ID != w.ID || ws[0].ProbeAt == nil || !ws[0].ProbeAt.Equal(at.Add(lease)) {
			t.Fatalf("got probed %+v, want webhook %d with ProbeAt %v", ws, w.ID, at.Add(lease))
		}
		if got := h.getWebhook(t, w.ID); !got.ProbeAt.Equal(at.Add(lease)) || got.Health != hookd.HealthPaused {
			t.Errorf("got stored probe at %v health %q, want %v paused", got.ProbeAt, got.Health, at.Add(lease))
		}
		probe := h.get(t, d2[0].ID)
		if probe.State != pending || !probe.NextAttemptAt.Equal(at) {
			t.Errorf("got probe %s due %v, want pending due %v", probe.State, probe.NextAttemptAt, at)
		}
		diff(t, "the others", h.states(t, d1[0].ID, d3[0].ID), []hookd.DeliveryState{held, held})
		if got := h.probeDue(t, lease); len(got) != 0 {
			t.Fatalf("got probes %v again within the lease, want none", got)
		}
		diff(t, "claimed probe", claimIDs(h.claim(t, 10)), ids(d2))

		h.clock.Advance(lease)
		diff(t, "second probe", h.probeDue(t, lease), []int64{w.ID})
		diff(t, "after the second probe", h.states(t, d1[0].ID, d3[0].ID), []hookd.DeliveryState{held, pending})
		at = h.clock.Advance(lease)
		diff(t, "third probe", h.probeDue(t, lease), []int64{w.ID})
		if d := h.get(t, d1[0].ID); d.State != retrying || !d.NextAttemptAt.Equal(at) {
			t.Errorf("got attempted probe %s due %v, want retrying due %v", d.State, d.NextAttemptAt, at)
		}
		// Nothing held any more: the webhook is still probed (and counted).
		h.clock.Advance(lease)
		diff(t, "probe without a held delivery", h.probeDue(t, lease), []int64{w.ID})
		if got := h.getWebhook(t, off.ID); !got.ProbeAt.Equal(T0) {
			t.Errorf("got disabled webhook's ProbeAt %v, want it untouched %v", got.ProbeAt, T0)
		}
	}},
	{"ProbeDueRejectsANonPositiveLease", func(t *testing.T, h *harness) {
		_, err := h.s.WebhookProbeDue(h.ctx, 0)
		wantCode(t, err, hookd.EINVALID)
	}},
	{"PublishAndRetryToAPausedWebhookAreHeld", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		h.webhook(t) // never paused
		_, before := h.publish(t, trigFileCreated)
		for _, c := range h.claim(t, 10) {
			h.record(t, h.result(c, 500))
		}
		h.pause(t, w, "", hookd.NeverProbe, 0)
		_, ds := h.publish(t, trigFileCreated)
		if got := []hookd.DeliveryState{ds[0].State, ds[1].State}; !slices.Equal(got, []hookd.DeliveryState{held, pending}) {
			t.Errorf("got published states %v, want [held pending]", got)
		}
		diff(t, "stored states", h.states(t, ids(ds)...), []hookd.DeliveryState{held, pending})
		rs, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: ids(before), CreatedBy: "admin"})
		if err != nil {
			t.Fatalf("DeliveryRetry: %v", err)
		}
		if len(rs) != 2 || rs[0].State != held || rs[1].State != pending {
			t.Fatalf("got retries %+v, want one held (paused) and one pending", rs)
		}
		diff(t, "claimed", claimIDs(h.claim(t, 10)), []int64{ds[1].ID, rs[1].ID})
	}},
}
