package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// update runs WebhookUpdate on a copy of w with enabled and a new name, as a person saving the
// form would, and fails the test on error.
func (h *harness) update(t testing.TB, w *hookd.Webhook, enabled bool) *hookd.Webhook {
	t.Helper()
	upd := *w
	upd.Secret = "" // keep the stored one
	upd.Enabled = enabled
	upd.Name += " (edited)"
	upd.ModifiedBy = "editor"
	got, err := h.s.WebhookUpdate(h.ctx, &upd)
	if err != nil {
		t.Fatalf("WebhookUpdate(enabled %v): %v", enabled, err)
	}
	return got
}

// disable switches w off with WebhookSetEnabled and fails the test on error.
func (h *harness) disable(t testing.TB, w *hookd.Webhook) {
	t.Helper()
	if _, err := h.s.WebhookSetEnabled(h.ctx, w.ID, false, "admin", "410 Gone"); err != nil {
		t.Fatalf("WebhookSetEnabled(false): %v", err)
	}
}

// healthView is the part of a webhook its health and enabling decide.
type healthView struct {
	Enabled        bool
	DisabledReason string
	Health         hookd.WebhookHealth
	HealthReason   string
	HealthSince    *time.Time
	ProbeAt        *time.Time
	Probes         int
}

// healthOfWebhook returns w's healthView.
func healthOfWebhook(w *hookd.Webhook) healthView {
	return healthView{w.Enabled, w.DisabledReason, w.Health, w.HealthReason, w.HealthSince, w.ProbeAt, w.Probes}
}

var webhookEnableTests = []test{
	{"WebhookUpdateSwitchingOnResumesAPausedOrDegradedWebhook", func(t *testing.T, h *harness) {
		paused := h.webhook(t)
		degraded := h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "elsewhere" }) // no deliveries
		_, d1 := h.publish(t, trigFileCreated)
		r := h.result(h.claimOne(t), 500) // attempted: retrying, due after d2
		r.NextAttemptAt = T0.Add(time.Second)
		h.record(t, r)
		_, d2 := h.publish(t, trigFileCreated)
		h.pause(t, paused, "", hookd.NeverProbe, 2)
		h.setHealth(t, hookd.WebhookHealthParams{ID: degraded.ID, From: "", To: hookd.HealthDegraded, Reason: "5 failures"})
		h.disable(t, paused)
		h.disable(t, degraded)
		diff(t, "paused's deliveries while off", h.states(t, d1[0].ID, d2[0].ID), []hookd.DeliveryState{held, held})

		at := h.clock.Advance(time.Minute)
		for _, w := range []*hookd.Webhook{paused, degraded} {
			got := h.update(t, w, true)
			want := healthView{Enabled: true, Health: hookd.HealthHealthy, HealthSince: &at}
			diff(t, "switched on by WebhookUpdate", healthOfWebhook(got), want)
			diff(t, "WebhookGet after switching on", healthOfWebhook(h.getWebhook(t, w.ID)), want)
			if got.Name != w.Name+" (edited)" || got.ModifiedBy != "editor" || got.ModifiedOn == nil || !got.ModifiedOn.Equal(at) {
				t.Errorf("got name %q modified by %q on %v, want the update's %q, editor, %v",
					got.Name, got.ModifiedBy, got.ModifiedOn, w.Name+" (edited)", at)
			}
		}
		// Released as the other ways of resuming release them: due when they were.
		a, b := h.get(t, d1[0].ID), h.get(t, d2[0].ID)
		if a.State != retrying || !a.NextAttemptAt.Equal(r.NextAttemptAt) || b.State != pending || !b.NextAttemptAt.Equal(T0) {
			t.Errorf("got deliveries %s due %v and %s due %v, want retrying due %v and pending due %v",
				a.State, a.NextAttemptAt, b.State, b.NextAttemptAt, r.NextAttemptAt, T0)
		}
		diff(t, "claimed after switching on, oldest due first", claimIDs(h.claim(t, 10)), []int64{d2[0].ID, d1[0].ID})
	}},
	{"WebhookUpdateNotSwitchingOnLeavesHealthAlone", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		_, ds := h.publish(t, trigFileCreated)
		probeAt := T0.Add(time.Hour)
		paused := healthOfWebhook(h.pause(t, w, "", probeAt, 2))
		for _, step := range []struct {
			name    string
			enabled bool
		}{
			{"KeptOn", true}, // a paused webhook stays paused when a person edits it
			{"SwitchedOff", false},
			{"KeptOff", false},
		} {
			h.clock.Advance(time.Minute)
			want := paused
			want.Enabled = step.enabled
			diff(t, step.name, healthOfWebhook(h.update(t, w, step.enabled)), want)
			diff(t, step.name+": WebhookGet", healthOfWebhook(h.getWebhook(t, w.ID)), want)
			diff(t, step.name+": delivery", h.states(t, ds[0].ID), []hookd.DeliveryState{held})
		}
		h.clock.Advance(2 * time.Hour) // past ProbeAt, and the delivery is due: still held
		if cs := h.claim(t, 10); len(cs) != 0 {
			t.Errorf("got %d claims, want none: the paused webhook's delivery stays held", len(cs))
		}
	}},
}
