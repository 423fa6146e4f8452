package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestHealthView(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 6, 30, 9, 0, 0, 0, time.UTC)
	probe := since.Add(5 * time.Second)
	never := hookd.NeverProbe
	for _, tc := range []struct {
		name      string
		hook      hookd.Webhook
		canWrite  bool
		badge     string
		reason    string
		probeAt   *time.Time
		byHand    bool
		canPause  bool
		canResume bool
	}{
		{"NeverSet", hookd.Webhook{Enabled: true}, true, "Healthy", "", nil, false, true, false},
		{"HealthyKeepsNoEvidence", hookd.Webhook{Enabled: true, Health: hookd.HealthHealthy, HealthReason: "3 successes", HealthSince: &since}, true, "Healthy", "", nil, false, true, false},
		{"Degraded", hookd.Webhook{Enabled: true, Health: hookd.HealthDegraded, HealthReason: "5 failures in a row", HealthSince: &since}, true, "Degraded", "5 failures in a row", nil, false, true, false},
		{"PausedProbed", hookd.Webhook{Enabled: true, Health: hookd.HealthPaused, HealthReason: "20 failures in a row", HealthSince: &since, ProbeAt: &probe}, true, "Paused", "20 failures in a row", &probe, false, false, true},
		{"PausedByHand", hookd.Webhook{Enabled: true, Health: hookd.HealthPaused, HealthReason: "paused by u1", HealthSince: &since, ProbeAt: &never}, true, "Paused", "paused by u1", nil, true, false, true},
		{"PausedReadOnly", hookd.Webhook{Enabled: true, Health: hookd.HealthPaused, ProbeAt: &probe}, false, "Paused", "", &probe, false, false, false},
		{"Disabled", hookd.Webhook{Enabled: false, Health: hookd.HealthPaused, HealthReason: "paused by u1", ProbeAt: &never}, true, "Disabled", "", nil, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newHealthView(&tc.hook, "token", tc.canWrite, "/webhooks")
			if v.Badge.Text != tc.badge || v.Reason != tc.reason || v.ByHand != tc.byHand || v.CanPause != tc.canPause || v.CanResume != tc.canResume {
				t.Errorf("got badge %q, reason %q, by hand %v, pause %v, resume %v; want %q, %q, %v, %v, %v",
					v.Badge.Text, v.Reason, v.ByHand, v.CanPause, v.CanResume, tc.badge, tc.reason, tc.byHand, tc.canPause, tc.canResume)
			}
			if (v.ProbeAt == nil) != (tc.probeAt == nil) || (v.ProbeAt != nil && !v.ProbeAt.Equal(*tc.probeAt)) {
				t.Errorf("got probe at %v, want %v", v.ProbeAt, tc.probeAt)
			}
		})
	}
}

func TestHeldDeliveryLabels(t *testing.T) {
	t.Parallel()
	d := &hookd.Delivery{State: hookd.DeliveryStateHeld, Attempts: 2, Status: 503}
	if b := deliveryBadge(d); b.Text != "Held" || b.Title != "Held (waiting: webhook paused)" {
		t.Errorf("held badge: got %+v, want Held waiting for the paused webhook", b)
	}
	if !live(hookd.DeliveryStateHeld) {
		t.Error("held delivery: got not live, want live (it goes out when the webhook resumes)")
	}
	if row := newLiveRow(d); row.BadgeText != "Held" || !row.Live || row.State != hookd.DeliveryStateHeld {
		t.Errorf("live row of a held delivery: got %+v", row)
	}
}

func TestWebhookPauseRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	hook := e.webhook(t, k, "quiet")
	ctx := context.Background()

	// Resuming a healthy webhook changes nothing and says so.
	res := b.submit(t, "/webhooks", fmt.Sprintf("/webhooks/%d/resume", hook.ID), url.Values{"return": {"/webhooks"}})
	wantRedirect(t, "resume healthy", res, "/webhooks")
	wantContains(t, "after resume", b.get(t, "/webhooks").body, `Webhook &#34;quiet&#34; is not paused.`)

	// Pausing a disabled webhook is refused: enabling resumes it anyway.
	if _, err := e.store.WebhookSetEnabled(ctx, hook.ID, false, k.UserID, ""); err != nil {
		t.Fatal(err)
	}
	list := b.get(t, "/webhooks")
	wantContains(t, "disabled list", list.body, `data-health="Disabled"`)
	wantNotContains(t, "disabled list", list.body, `data-pause`)
	res = b.submit(t, "/webhooks", fmt.Sprintf("/webhooks/%d/pause", hook.ID), url.Values{"return": {"https://evil.example/"}})
	wantRedirect(t, "pause disabled", res, "/webhooks") // never off-site
	wantContains(t, "after pause", b.get(t, "/webhooks").body, "is disabled: there is nothing to pause")
	if got, _ := e.store.WebhookGet(ctx, hook.ID); got.Health != "" && got.Health != hookd.HealthHealthy {
		t.Fatalf("disabled webhook after a refused pause: got health %q, want healthy", got.Health)
	}

	wantStatus(t, "pause missing", b.submit(t, "/webhooks", "/webhooks/999/pause", nil), http.StatusNotFound)
}

func TestWebhookPauseResume(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	hook := e.webhook(t, k, "paced")
	ctx := context.Background()
	e.publish(t, 1<<7)
	history := fmt.Sprintf("/webhooks/%d/history", hook.ID)

	list := b.get(t, "/webhooks")
	wantContains(t, "healthy list", list.body, `data-health="Healthy"`)
	wantContains(t, "healthy list", list.body, `data-pause`)
	wantRedirect(t, "pause", b.submit(t, "/webhooks", fmt.Sprintf("/webhooks/%d/pause", hook.ID), url.Values{"return": {"/webhooks"}}), "/webhooks")
	got, err := e.store.WebhookGet(ctx, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State() != hookd.HealthPaused || got.HealthReason != "paused by "+k.UserID || got.ProbeAt == nil || !got.ProbeAt.Equal(hookd.NeverProbe) {
		t.Fatalf("after pause: got state %q, reason %q, probe at %v; want paused by %s, never probed", got.State(), got.HealthReason, got.ProbeAt, k.UserID)
	}

	list = b.get(t, "/webhooks")
	wantContains(t, "paused list", list.body, `Webhook &#34;paced&#34; paused`)
	wantContains(t, "paused list", list.body, `data-health="Paused"`)
	wantContains(t, "paused list", list.body, "paused by "+k.UserID)
	wantContains(t, "paused list", list.body, "paused by hand: resume it to send")
	wantContains(t, "paused list", list.body, `data-resume`)
	wantNotContains(t, "paused list", list.body, `data-pause`)

	// Deliveries wait: the one there before and a new one are held.
	ds := e.publish(t, 1<<7)
	if len(ds) != 1 || ds[0].State != hookd.DeliveryStateHeld {
		t.Fatalf("publish to a paused webhook: got %+v, want one held delivery", ds)
	}
	page := b.get(t, history)
	wantContains(t, "webhook page", page.body, `data-health="Paused"`)
	wantContains(t, "webhook page", page.body, `data-resume`)
	if n := strings.Count(page.body, `<span class="badge badge-idle" title="Held (waiting: webhook paused)">Held</span>`); n != 2 {
		t.Fatalf("held rows in the history: got %d, want 2", n)
	}
	details := b.get(t, fmt.Sprintf("/deliveries/%d", ds[0].ID))
	wantContains(t, "details", details.body, "Held (waiting: webhook paused)")
	wantContains(t, "details", details.body, `id="held"`)

	// Resume from the webhook's page: back there, deliveries due again, dispatcher woken.
	woke := e.woke.Load()
	wantRedirect(t, "resume", b.submit(t, history, fmt.Sprintf("/webhooks/%d/resume", hook.ID), url.Values{"return": {history}}), history)
	if got, _ = e.store.WebhookGet(ctx, hook.ID); got.State() != hookd.HealthHealthy || got.ProbeAt != nil {
		t.Fatalf("after resume: got state %q, probe at %v; want healthy without a probe", got.State(), got.ProbeAt)
	}
	if e.woke.Load() == woke {
		t.Error("resume did not wake the dispatcher")
	}
	rows, _, err := e.store.DeliveryList(ctx, hookd.DeliveryFilter{WebhookID: &hook.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rows {
		if d.State != hookd.DeliveryStatePending {
			t.Errorf("delivery %d after resume: got state %q, want pending", d.ID, d.State)
		}
	}
	page = b.get(t, history)
	wantContains(t, "resumed page", page.body, `Webhook &#34;paced&#34; resumed`)
	wantContains(t, "resumed page", page.body, `data-health="Healthy"`)
	wantNotContains(t, "resumed page", page.body, ">Held<")
}

func TestWebhookOrderedOption(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	form := hookForm("seq")
	form.Set("ordered", "on")
	wantRedirect(t, "create", b.submit(t, "/webhooks/new", "/webhooks", form), "/webhooks")
	wantContains(t, "list", b.get(t, "/webhooks").body, `data-ordered>ordered</span>`)
	w, err := e.store.WebhookFind(context.Background(), "seq", "https://receiver.example/seq")
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "webhook page", b.get(t, fmt.Sprintf("/webhooks/%d/history", w.ID)).body, `data-ordered>ordered</span>`)

	wantFormOption(t, e, b, hookForm("seq2"), "ordered", "ordered", func(w *hookd.Webhook) bool { return w.Ordered })
	if n := strings.Count(b.get(t, "/webhooks").body, `data-ordered>ordered</span>`); n != 1 {
		t.Errorf("ordered tags on the list: got %d, want 1 (seq only)", n)
	}
}

// TestWebhookEditEnablingResumes: switching a paused webhook off and on again with the edit
// form resumes it, as the switch of the list does: healthy, held deliveries due again.
func TestWebhookEditEnablingResumes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	hook := e.webhook(t, k, "paused")
	ctx := context.Background()
	path := fmt.Sprintf("/webhooks/%d", hook.ID)
	wantRedirect(t, "pause", b.submit(t, "/webhooks", path+"/pause", url.Values{"return": {"/webhooks"}}), "/webhooks")
	ds := e.publish(t, 1<<7)
	if len(ds) != 1 || ds[0].State != hookd.DeliveryStateHeld {
		t.Fatalf("publish to a paused webhook: got %+v, want one held delivery", ds)
	}
	if _, err := e.store.WebhookSetEnabled(ctx, hook.ID, false, k.UserID, ""); err != nil {
		t.Fatal(err)
	}
	woke := e.woke.Load()
	form := hookForm("paused")
	form.Set("secret", "")
	wantRedirect(t, "save enabled", b.submit(t, path+"/edit", path, form), "/webhooks")
	got, err := e.store.WebhookGet(ctx, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.State() != hookd.HealthHealthy {
		t.Errorf("after the edit: got enabled %v, state %q; want enabled and healthy", got.Enabled, got.State())
	}
	if d, err := e.store.DeliveryGet(ctx, ds[0].ID); err != nil || d.State != hookd.DeliveryStatePending {
		t.Errorf("held delivery after the edit: got %v (%v), want pending", d, err)
	}
	if e.woke.Load() == woke {
		t.Error("the edit that switched the webhook on did not wake the dispatcher")
	}

	// Saving a paused webhook that stays on leaves the pause and wakes nothing.
	wantRedirect(t, "pause again", b.submit(t, "/webhooks", path+"/pause", url.Values{"return": {"/webhooks"}}), "/webhooks")
	woke = e.woke.Load()
	wantRedirect(t, "save kept on", b.submit(t, path+"/edit", path, form), "/webhooks")
	if got, err = e.store.WebhookGet(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	if got.State() != hookd.HealthPaused {
		t.Errorf("after an edit that kept it on: got state %q, want paused", got.State())
	}
	if n := e.woke.Load() - woke; n != 0 {
		t.Errorf("got %d wakes after an edit that kept the webhook on, want none", n)
	}
}
