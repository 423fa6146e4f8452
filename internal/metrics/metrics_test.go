package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/store/storetest"
)

// openStore returns a migrated SQLite store in t's temporary directory.
func openStore(t testing.TB, clock hookd.Clock) hookd.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// observed returns metrics whose gauges read a new SQLite store, that store wrapped by the
// metrics, and the clock of both.
func observed(t testing.TB) (*Metrics, hookd.Store, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock(storetest.T0)
	store := openStore(t, clock)
	m := New(store, Config{Clock: clock, Logger: quiet})
	return m, m.Store(store), clock
}

// createWebhooks stores one enabled webhook for every event per name, in order.
func createWebhooks(t testing.TB, s hookd.Store, names ...string) []*hookd.Webhook {
	t.Helper()
	var ws []*hookd.Webhook
	for _, name := range names {
		w, err := s.WebhookCreate(context.Background(), &hookd.Webhook{Name: name, URI: "https://x.example/" + name, Secret: "s", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	return ws
}

// countingStats counts DeliveryStats and WebhookList calls and can be told to fail.
type countingStats struct {
	StatsSource
	calls, lists atomic.Int64
	fail         atomic.Bool
}

func (c *countingStats) DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return nil, errors.New("database is down")
	}
	return c.StatsSource.DeliveryStats(ctx)
}

func (c *countingStats) WebhookList(ctx context.Context, f hookd.WebhookFilter) ([]*hookd.Webhook, error) {
	c.lists.Add(1)
	if c.fail.Load() {
		return nil, errors.New("database is down")
	}
	return c.StatsSource.WebhookList(ctx, f)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// want fails the test unless the metric's value is v.
func want(t testing.TB, what string, got, v float64) {
	t.Helper()
	if got != v {
		t.Errorf("%s: got %v, want %v", what, got, v)
	}
}

func TestStoreCountsWhatPassesThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, clock := observed(t)
	createWebhooks(t, s, "a", "b")
	for range 3 {
		if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	want(t, "events published", testutil.ToFloat64(m.eventsPublished), 3)
	want(t, "deliveries created by publish", testutil.ToFloat64(m.deliveriesCreated.WithLabelValues("publish")), 6)

	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 4, Lease: time.Minute})
	if err != nil || len(cs) != 4 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	want(t, "in flight after claim", testutil.ToFloat64(m.inFlight), 4)

	result := func(c *hookd.Claim, status int, o hookd.Outcome, d time.Duration) *hookd.AttemptResult {
		r := &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: clock.Now(), Duration: d, Status: status},
			ClaimToken: c.Token, Outcome: o,
		}
		if o == hookd.OutcomeRetry {
			r.NextAttemptAt = clock.Now().Add(time.Minute)
		}
		return r
	}
	gone := result(cs[2], 410, hookd.OutcomeFailed, 20*time.Millisecond)
	gone.DisableWebhook = "receiver answered 410 Gone"
	err = s.AttemptRecord(ctx, []*hookd.AttemptResult{
		result(cs[0], 200, hookd.OutcomeDelivered, 30*time.Millisecond),
		result(cs[1], 503, hookd.OutcomeRetry, 2*time.Second),
		gone,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeliveryRelease(ctx, cs[3:]); err != nil {
		t.Fatal(err)
	}
	want(t, "attempts delivered", testutil.ToFloat64(m.attempts.WithLabelValues("delivered")), 1)
	want(t, "attempts retry", testutil.ToFloat64(m.attempts.WithLabelValues("retry")), 1)
	want(t, "attempts failed", testutil.ToFloat64(m.attempts.WithLabelValues("failed")), 1)
	want(t, "disabled for 410", testutil.ToFloat64(m.webhooksDisabled.WithLabelValues("gone")), 1)
	want(t, "in flight after record and release", testutil.ToFloat64(m.inFlight), 0)
	if n := testutil.CollectAndCount(m.attemptDuration); n != 3 {
		t.Errorf("got %d duration series, want one per outcome (3)", n)
	}

	// A failing call counts nothing.
	if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{{Outcome: 99}}); err == nil {
		t.Fatal("AttemptRecord with an unknown outcome: got no error")
	}
	want(t, "attempts after a failed record", testutil.ToFloat64(m.attempts.WithLabelValues("failed")), 1)

	ds, err := s.DeliveryRetry(ctx, &hookd.DeliveryRetryParams{IDs: []int64{cs[0].Delivery.ID, cs[2].Delivery.ID}})
	if err != nil || len(ds) != 2 {
		t.Fatalf("retry: %d, %v", len(ds), err)
	}
	want(t, "deliveries created by retry", testutil.ToFloat64(m.deliveriesCreated.WithLabelValues("retry")), 2)

	clock.Advance(24 * time.Hour)
	n, err := s.DeliveryPrune(ctx, clock.Now(), 100)
	if err != nil || n != 2 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	want(t, "pruned", testutil.ToFloat64(m.pruned), 2)
	ws, err := s.WebhookDisableFailing(ctx, clock.Now().Add(-time.Hour), "no successful delivery for 1h0m0s")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "disabled for failing", testutil.ToFloat64(m.webhooksDisabled.WithLabelValues("failing")), float64(len(ws)))
	if len(ws) != 1 {
		t.Errorf("got %d webhooks disabled for failing, want 1 (the one whose last attempt was a 503)", len(ws))
	}
}

func TestBacklogIsCachedAndAged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.T0)
	store := openStore(t, clock)
	stats := &countingStats{StatsSource: store}
	m := New(stats, Config{Clock: clock, Logger: quiet, StatsTTL: 10 * time.Second})
	createWebhooks(t, store, "a")
	publish := func() {
		if _, _, err := store.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	clock.Advance(90 * time.Second)
	publish()

	scrape := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("GET /metrics: got status %d, want 200", rec.Code)
		}
		return rec.Body.String()
	}
	body := scrape()
	for _, line := range []string{
		`hookd_deliveries_backlog{state="pending"} 2`,
		`hookd_deliveries_backlog{state="retrying"} 0`,
		`hookd_deliveries_due 2`,
		`hookd_oldest_due_delivery_age_seconds 90`,
		`hookd_build_info{commit="unknown",goversion="`,
		`hookd_attempts_total{outcome="retry"} 0`,
		`hookd_deliveries_held 0`,
		`hookd_webhooks{health="healthy"} 1`,
		`hookd_webhooks{health="paused"} 0`,
		`hookd_webhook_health_changes_total{to="paused"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q:\n%s", line, body)
		}
	}

	publish()
	clock.Advance(5 * time.Second)
	if body := scrape(); !strings.Contains(body, `hookd_deliveries_backlog{state="pending"} 2`) {
		t.Errorf("second scrape within the TTL did not reuse the reading")
	}
	want(t, "DeliveryStats calls within the TTL", float64(stats.calls.Load()), 1)
	want(t, "WebhookList calls within the TTL", float64(stats.lists.Load()), 1)

	clock.Advance(6 * time.Second)
	body = scrape()
	if !strings.Contains(body, `hookd_deliveries_backlog{state="pending"} 3`) ||
		!strings.Contains(body, `hookd_oldest_due_delivery_age_seconds 101`) {
		t.Errorf("scrape after the TTL did not read the store again:\n%s", body)
	}
	want(t, "DeliveryStats calls after the TTL", float64(stats.calls.Load()), 2)
	want(t, "WebhookList calls after the TTL", float64(stats.lists.Load()), 2)

	// A database failure leaves the backlog out of the scrape instead of reporting zeros.
	stats.fail.Store(true)
	clock.Advance(time.Minute)
	body = scrape()
	for _, name := range []string{"hookd_deliveries_backlog{", "hookd_deliveries_held ", "hookd_webhooks{"} {
		if strings.Contains(body, name) {
			t.Errorf("scrape with a failing database reports %s:\n%s", name, body)
		}
	}
	if !strings.Contains(body, "hookd_events_published_total 0") {
		t.Errorf("scrape with a failing database lacks the other metrics")
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := New(nil, Config{Logger: quiet}), New(nil, Config{Logger: quiet})
	a.eventsPublished.Add(5)
	want(t, "second registry's counter", testutil.ToFloat64(b.eventsPublished), 0)
	if _, err := a.Registry().Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
}

func TestGoneCountsEachWebhookOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, clock := observed(t)
	w := createWebhooks(t, s, "a")[0]
	publishAndGone := func(n int) {
		t.Helper()
		for range n {
			if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1, Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: n, Lease: time.Minute})
		if err != nil || len(cs) != n {
			t.Fatalf("claim: %d of %d, %v", len(cs), n, err)
		}
		var rs []*hookd.AttemptResult
		for _, c := range cs {
			rs = append(rs, &hookd.AttemptResult{
				Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: clock.Now(), Status: 410},
				ClaimToken: c.Token, Outcome: hookd.OutcomeFailed, DisableWebhook: "receiver answered 410 Gone",
			})
		}
		// Recorded one by one, as they finish: the first switches the webhook off.
		for _, r := range rs {
			if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{r}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publishAndGone(3) // three attempts in flight, all answered 410
	want(t, "disabled after three concurrent 410s", testutil.ToFloat64(m.webhooksDisabled.WithLabelValues("gone")), 1)

	if _, err := s.WebhookSetEnabled(ctx, w.ID, true, "u", ""); err != nil {
		t.Fatal(err)
	}
	publishAndGone(1) // switched back on, gone again: a second disable
	want(t, "disabled after re-enabling and another 410", testutil.ToFloat64(m.webhooksDisabled.WithLabelValues("gone")), 2)
	want(t, "in flight", testutil.ToFloat64(m.inFlight), 0)
}

func TestBatchPublishCountsLikeSingle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, _ := observed(t)
	createWebhooks(t, s, "a", "b")
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "c", URI: "https://x.example/c", Secret: "s", Enabled: true, Triggers: 1 << 8}); err != nil {
		t.Fatal(err)
	}
	ps := []*hookd.EventPublishParams{
		{Trigger: 1 << 7, Payload: []byte(`{"id":1}`)}, // a and b
		{Trigger: 1 << 8, Payload: []byte(`{"id":2}`)}, // a, b and c
		{Trigger: 1 << 7, Payload: []byte(`{"id":3}`)}, // a and b
	}
	out, err := s.EventPublishBatch(ctx, ps)
	if err != nil || len(out) != 3 {
		t.Fatalf("batch: %d published, %v", len(out), err)
	}
	want(t, "events published", testutil.ToFloat64(m.eventsPublished), 3)
	want(t, "deliveries created by publish", testutil.ToFloat64(m.deliveriesCreated.WithLabelValues("publish")), 7)

	// A rejected batch counts nothing.
	if _, err := s.EventPublishBatch(ctx, []*hookd.EventPublishParams{{Trigger: 1 << 7, Payload: []byte(`{}`)}, {Trigger: 0, Payload: []byte(`{}`)}}); err == nil {
		t.Fatal("batch with an invalid trigger: got no error")
	}
	want(t, "events after a rejected batch", testutil.ToFloat64(m.eventsPublished), 3)
}

func TestHealthChangesAndHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, clock := observed(t)
	hooks := createWebhooks(t, s, "a", "b", "c")
	a := hooks[0].ID
	changes := func(to hookd.WebhookHealth) float64 {
		return testutil.ToFloat64(m.healthChanges.WithLabelValues(string(to)))
	}
	for _, step := range []struct {
		name        string
		from, to    hookd.WebhookHealth
		wantChanged bool
		degraded    float64
		paused      float64
		healthy     float64
	}{
		{"Degrades", "", hookd.HealthDegraded, true, 1, 0, 0},
		{"NewReasonIsNoChange", hookd.HealthDegraded, hookd.HealthDegraded, true, 1, 0, 0},
		{"StaleFromChangesNothing", hookd.HealthHealthy, hookd.HealthPaused, false, 1, 0, 0},
		{"Pauses", hookd.HealthDegraded, hookd.HealthPaused, true, 1, 1, 0},
		{"FailedProbeIsNoChange", hookd.HealthPaused, hookd.HealthPaused, true, 1, 1, 0},
		{"Recovers", hookd.HealthPaused, hookd.HealthHealthy, true, 1, 1, 1},
	} {
		_, changed, err := s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{
			ID: a, From: step.from, To: step.to, Reason: step.name, ProbeAt: clock.Now().Add(time.Minute),
		})
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if changed != step.wantChanged {
			t.Errorf("%s: got changed %v, want %v", step.name, changed, step.wantChanged)
		}
		want(t, step.name+": changes to degraded", changes(hookd.HealthDegraded), step.degraded)
		want(t, step.name+": changes to paused", changes(hookd.HealthPaused), step.paused)
		want(t, step.name+": changes to healthy", changes(hookd.HealthHealthy), step.healthy)
	}

	// Enabling resumes a paused webhook: a change to healthy; enabling a healthy one is none.
	if _, _, err := s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: a, From: hookd.HealthHealthy, To: hookd.HealthPaused, ProbeAt: hookd.NeverProbe}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, a} {
		if _, err := s.WebhookSetEnabled(ctx, id, true, "u", ""); err != nil {
			t.Fatal(err)
		}
	}
	want(t, "changes to healthy after enabling a paused webhook twice", changes(hookd.HealthHealthy), 2)

	// One webhook of each state, and deliveries held by the paused one.
	if _, _, err := s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: hooks[1].ID, To: hookd.HealthPaused, ProbeAt: hookd.NeverProbe}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebhookSetEnabled(ctx, hooks[2].ID, false, "u", ""); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP hookd_deliveries_held Deliveries waiting for their paused webhook to resume, in the whole database.
# TYPE hookd_deliveries_held gauge
hookd_deliveries_held 2
# HELP hookd_webhooks Webhooks by health state (healthy, degraded, paused, disabled), in the whole database.
# TYPE hookd_webhooks gauge
hookd_webhooks{health="degraded"} 0
hookd_webhooks{health="disabled"} 1
hookd_webhooks{health="healthy"} 1
hookd_webhooks{health="paused"} 1
`), "hookd_deliveries_held", "hookd_webhooks"); err != nil {
		t.Error(err)
	}
}

func TestUpdateSwitchingOnCountsAsHealthy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, s, _ := observed(t)
	hooks := createWebhooks(t, s, "paused", "healthy")
	healthy := func() float64 {
		return testutil.ToFloat64(m.healthChanges.WithLabelValues(string(hookd.HealthHealthy)))
	}
	pause := func(w *hookd.Webhook) {
		t.Helper()
		if _, _, err := s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: w.ID, To: hookd.HealthPaused, ProbeAt: hookd.NeverProbe}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(w *hookd.Webhook, enabled bool) *hookd.Webhook {
		t.Helper()
		upd := *w
		upd.Secret, upd.Enabled = "", enabled
		out, err := s.WebhookUpdate(ctx, &upd)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	pause(hooks[0])
	update(hooks[0], false)
	update(hooks[1], false)
	want(t, "changes to healthy after switching off", healthy(), 0)
	if got := update(hooks[0], true); got.State() != hookd.HealthHealthy {
		t.Fatalf("got state %q after an update switched the paused webhook on, want healthy", got.State())
	}
	want(t, "changes to healthy after an update switched a paused webhook on", healthy(), 1)
	update(hooks[1], true)
	want(t, "changes to healthy after an update switched a healthy webhook on", healthy(), 1)

	// An update of a paused webhook that stays on changes no health, and counts none.
	pause(hooks[0])
	if got := update(hooks[0], true); got.State() != hookd.HealthPaused {
		t.Fatalf("got state %q after an update kept the paused webhook on, want paused", got.State())
	}
	want(t, "changes to healthy after an update kept a paused webhook on", healthy(), 1)
}
