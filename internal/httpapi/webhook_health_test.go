package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestWebhookOrderedAndHealthFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ordered, plain webhookDTO
	a := f.do(&f.user, "POST", "/api/2.0/settings/webhook",
		`{"name":"ord","uri":"https://example.com/ord","secretKey":"s3cret-key","enabled":true,"Ordered":true}`).ok(t, 200, &ordered)
	f.do(&f.user, "POST", "/api/2.0/settings/webhook",
		`{"name":"plain","uri":"https://example.com/plain","secretKey":"s3cret-key","enabled":true}`).ok(t, 200, &plain)
	if !ordered.Ordered || plain.Ordered {
		t.Fatalf("got created ordered %v and %v, want true and false", ordered.Ordered, plain.Ordered)
	}
	// A new webhook is healthy, and says so with every field, null times included.
	for _, field := range []string{`"health":"healthy"`, `"healthReason":""`, `"healthSince":null`, `"probeAt":null`, `"ordered":true`} {
		if !strings.Contains(string(a.Response), field) {
			t.Errorf("got %s, want it to contain %s", a.Response, field)
		}
	}
	stored := func(id int64) *hookd.Webhook {
		t.Helper()
		w, err := f.store.WebhookGet(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	// A DocSpace client does not know the field: its full replacement leaves it alone.
	var got webhookDTO
	update := `{"id":%d,"name":"ord","uri":"https://example.com/ord","enabled":true%s}`
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook", fmt.Sprintf(update, ordered.ID, "")).ok(t, 200, &got)
	if !got.Ordered || !stored(ordered.ID).Ordered {
		t.Errorf("after a DocSpace update: got ordered %v (stored %v), want it kept true", got.Ordered, stored(ordered.ID).Ordered)
	}
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook", fmt.Sprintf(update, ordered.ID, `,"ordered":false`)).ok(t, 200, &got)
	if got.Ordered || stored(ordered.ID).Ordered {
		t.Errorf("after ordered:false: got %v (stored %v), want false", got.Ordered, stored(ordered.ID).Ordered)
	}
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook", fmt.Sprintf(update, ordered.ID, `,"ordered":true`)).ok(t, 200, &got)
	// A secret rotation rewrites the whole webhook: it keeps ordered too.
	f.do(&f.user, "PUT", "/api/2.0/webhooks/"+itoa(ordered.ID)+"/secret", `{"secretKey":"n3w-secret-key"}`).ok(t, 200, &got)
	if !got.Ordered || !stored(ordered.ID).Ordered {
		t.Errorf("after a secret rotation: got ordered %v (stored %v), want true", got.Ordered, stored(ordered.ID).Ordered)
	}

	// The list shows what hookd judged: degraded with its evidence, paused with its probe,
	// disabled with why it was disabled rather than its last health.
	since := f.clock.Now()
	probe := since.Add(40 * time.Second)
	f.setHealth(ordered.ID, hookd.HealthDegraded, "5 consecutive failures", time.Time{})
	var items []struct{ Configs webhookDTO }
	f.do(&f.userRead, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
	if got := items[0].Configs; got.Health != "degraded" || got.HealthReason != "5 consecutive failures" ||
		got.HealthSince == nil || *got.HealthSince != "2026-06-30T10:00:00Z" || got.ProbeAt != nil {
		t.Errorf("got degraded webhook %+v, want degraded, its reason and since 10:00, no probe", got)
	}
	f.setHealth(ordered.ID, hookd.HealthPaused, "20 consecutive failures", probe)
	f.do(&f.userRead, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
	if got := items[0].Configs; got.Health != "paused" || got.ProbeAt == nil || *got.ProbeAt != "2026-06-30T10:00:40Z" {
		t.Errorf("got paused webhook %+v, want paused with its probe at 10:00:40", got)
	}
	if _, err := f.store.WebhookSetEnabled(f.ctx, ordered.ID, false, "", "410 Gone"); err != nil {
		t.Fatal(err)
	}
	f.do(&f.userRead, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
	if got := items[0].Configs; got.Health != "disabled" || got.HealthReason != "410 Gone" || got.HealthSince != nil || got.ProbeAt != nil {
		t.Errorf("got disabled webhook %+v, want disabled, reason 410 Gone, no since, no probe", got)
	}
	if got := items[1].Configs; got.Health != "healthy" || got.ID != plain.ID {
		t.Errorf("got %+v, want the plain webhook healthy", got)
	}
}

// setHealth moves a webhook to health to, whatever its state, as the delivery worker does.
func (f *fixture) setHealth(id int64, to hookd.WebhookHealth, reason string, probeAt time.Time) {
	f.t.Helper()
	w, err := f.store.WebhookGet(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, ok, err := f.store.WebhookHealthSet(f.ctx, &hookd.WebhookHealthParams{
		ID: id, From: w.Health, To: to, Reason: reason, ProbeAt: probeAt,
	}); err != nil || !ok {
		f.t.Fatalf("set health %s: got %v, %v, want the change made", to, ok, err)
	}
}

func TestWebhookPauseResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hook := f.createWebhook(&f.user, "mine", "https://example.com/mine", 0, "")
	before := f.publish(`"file.created"`, `{"id":1}`).Deliveries[0].ID
	path := "/api/2.0/webhooks/" + itoa(hook.ID)
	states := func() map[int64]string {
		t.Helper()
		var rows []logRow
		f.do(&f.user, "GET", "/api/2.0/settings/webhooks/log", "").ok(t, 200, &rows)
		out := map[int64]string{}
		for _, r := range rows {
			out[r.ID] = r.State
			if r.State == "held" && r.NextAttemptOn != nil {
				t.Errorf("held delivery %d shows nextAttemptOn %s, want none: it waits for a person", r.ID, *r.NextAttemptOn)
			}
		}
		return out
	}

	f.clock.Advance(time.Minute)
	var got webhookDTO
	f.do(&f.user, "POST", path+"/pause", "").ok(t, 200, &got)
	if got.Health != "paused" || got.HealthReason != "paused by "+f.user.key.UserID || got.ProbeAt != nil ||
		got.HealthSince == nil || *got.HealthSince != "2026-06-30T10:01:00Z" {
		t.Errorf("got paused webhook %+v, want paused by the user since 10:01, never probed", got)
	}
	if w, _ := f.store.WebhookGet(f.ctx, hook.ID); w.ProbeAt == nil || !w.ProbeAt.Equal(hookd.NeverProbe) {
		t.Errorf("got stored probe time %v, want hookd.NeverProbe", w.ProbeAt)
	}
	after := f.publish(`"file.created"`, `{"id":2}`).Deliveries[0].ID
	if s := states(); s[before] != "held" || s[after] != "held" {
		t.Errorf("got states %v while paused, want both deliveries held", s)
	}

	wakes := f.wakes.Load()
	f.do(&f.user, "POST", path+"/resume", "").ok(t, 200, &got)
	if got.Health != "healthy" || got.HealthReason != "" || got.ProbeAt != nil {
		t.Errorf("got resumed webhook %+v, want healthy without reason or probe", got)
	}
	if s := states(); s[before] != "pending" || s[after] != "pending" {
		t.Errorf("got states %v after resuming, want both deliveries pending again", s)
	}
	if f.wakes.Load() == wakes {
		t.Errorf("got no wake after resuming, want the released deliveries claimed at once")
	}

	// Enabling resumes: a paused webhook switched off and on is healthy again.
	f.do(&f.admin, "POST", path+"/pause", "").ok(t, 200, &got)
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":false}`).ok(t, 200, &got)
	if got.Health != "disabled" {
		t.Errorf("got health %q after disabling, want disabled", got.Health)
	}
	// Pausing a disabled webhook means nothing: refused, and nothing changes.
	f.do(&f.user, "POST", path+"/pause", "").fails(t, 400, "disabled")
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":true}`).ok(t, 200, &got)
	if got.Health != "healthy" {
		t.Errorf("got health %q after enabling a paused webhook, want healthy", got.Health)
	}

	// So does switching it on with an update (PUT /settings/webhook, enabled true).
	f.do(&f.user, "POST", path+"/pause", "").ok(t, 200, &got)
	third := f.publish(`"file.created"`, `{"id":3}`).Deliveries[0].ID
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":false}`).ok(t, 200, &got)
	wakes = f.wakes.Load()
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook",
		`{"id":`+itoa(hook.ID)+`,"name":"mine","uri":"https://example.com/mine","enabled":true}`).ok(t, 200, &got)
	if f.wakes.Load() == wakes {
		t.Errorf("got no wake after an update switched the webhook on, want the released deliveries claimed at once")
	}
	if got.Health != "healthy" || !got.Enabled {
		t.Errorf("got health %q enabled %v after an update switched the paused webhook on, want healthy and on", got.Health, got.Enabled)
	}
	if s := states(); s[third] != "pending" {
		t.Errorf("got state %q of the delivery held by the pause, want pending after the update switched the webhook on", s[third])
	}
	// An update of a webhook that is on leaves its health alone.
	f.do(&f.user, "POST", path+"/pause", "").ok(t, 200, &got)
	wakes = f.wakes.Load()
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook",
		`{"id":`+itoa(hook.ID)+`,"name":"renamed","uri":"https://example.com/mine","enabled":true}`).ok(t, 200, &got)
	if got.Health != "paused" {
		t.Errorf("got health %q after renaming a paused webhook, want paused", got.Health)
	}
	if s := states(); s[third] != "held" {
		t.Errorf("got state %q of the delivery held again after renaming, want held", s[third])
	}
	if n := f.wakes.Load() - wakes; n != 0 {
		t.Errorf("got %d wakes after renaming a webhook that stays on, want none", n)
	}

	f.do(&f.user, "POST", "/api/2.0/webhooks/999/pause", "").fails(t, 404, "")
	f.do(&f.user2, "POST", path+"/resume", "").fails(t, 403, "Access denied")
}

// healthMover is a store whose webhooks change health under the API's feet: before each of
// the next `moves` WebhookHealthSet calls, the webhook is moved to another state, as the
// delivery worker of another node would.
type healthMover struct {
	hookd.Store
	moves atomic.Int64
}

func (m *healthMover) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	if m.moves.Add(-1) >= 0 {
		w, err := m.Store.WebhookGet(ctx, p.ID)
		if err != nil {
			return nil, false, err
		}
		to := hookd.HealthDegraded
		if w.State() == to {
			to = hookd.HealthHealthy
		}
		if _, _, err := m.Store.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: p.ID, From: w.Health, To: to, Reason: "moved"}); err != nil {
			return nil, false, err
		}
	}
	return m.Store.WebhookHealthSet(ctx, p)
}

func TestWebhookPauseRetriesOnce(t *testing.T) {
	t.Parallel()
	mover := &healthMover{}
	f := newWrappedFixture(t, func(s hookd.Store) hookd.Store { mover.Store = s; return mover })
	hook := f.createWebhook(&f.admin, "moving", "https://example.com/moving", 0, "")
	path := "/api/2.0/webhooks/" + itoa(hook.ID) + "/pause"

	mover.moves.Store(1)
	var got webhookDTO
	f.do(&f.admin, "POST", path, "").ok(t, 200, &got)
	if got.Health != "paused" {
		t.Errorf("got health %q after one move, want paused on the second try", got.Health)
	}

	mover.moves.Store(2)
	f.do(&f.admin, "POST", "/api/2.0/webhooks/"+itoa(hook.ID)+"/resume", "").fails(t, 400, "try again")
	// Paused, moved to degraded, tried again, moved to healthy: the mover's change stands.
	if w, _ := f.store.WebhookGet(f.ctx, hook.ID); w.State() != hookd.HealthHealthy || w.HealthReason != "moved" {
		t.Errorf("got webhook %s (%q) after a refused resume, want the mover's healthy (\"moved\")", w.State(), w.HealthReason)
	}
}
