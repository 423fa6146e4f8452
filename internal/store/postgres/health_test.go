package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// setHealth moves w from one state to another and fails the test unless it changed.
func setHealth(t testing.TB, s hookd.Store, id int64, from, to hookd.WebhookHealth, probeAt time.Time) *hookd.Webhook {
	t.Helper()
	w, ok, err := s.WebhookHealthSet(context.Background(), &hookd.WebhookHealthParams{
		ID: id, From: from, To: to, Reason: "test: " + string(to), ProbeAt: probeAt,
	})
	if err != nil || !ok {
		t.Fatalf("WebhookHealthSet %s → %s: got %v, %v, want changed", from, to, ok, err)
	}
	return w
}

// states returns the state of each delivery, by id.
func states(t testing.TB, s hookd.Store, ds []*hookd.Delivery) map[int64]hookd.DeliveryState {
	t.Helper()
	out := map[int64]hookd.DeliveryState{}
	for _, d := range ds {
		got, err := s.DeliveryGet(context.Background(), d.ID)
		if err != nil {
			t.Fatalf("DeliveryGet %d: %v", d.ID, err)
		}
		out[d.ID] = got.State
	}
	return out
}

// claimAll claims every due delivery.
func claimAll(t testing.TB, s hookd.Store) []*hookd.Claim {
	t.Helper()
	cs, err := s.DeliveryClaim(context.Background(), &hookd.DeliveryClaimParams{Limit: 1000, Lease: time.Minute})
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	return cs
}

// fail records a retryable 500 for each claim, due again at next.
func fail(t testing.TB, s hookd.Store, next time.Time, cs ...*hookd.Claim) {
	t.Helper()
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: next, Status: 500, Error: "500"},
			ClaimToken: c.Token, Outcome: hookd.OutcomeRetry, NextAttemptAt: next,
		})
	}
	if err := s.AttemptRecord(context.Background(), rs); err != nil {
		t.Fatalf("AttemptRecord: %v", err)
	}
}

func TestPauseHoldsAndResumeReleases(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	w := mustWebhook(t, s, "a")
	other := mustWebhook(t, s, "b")
	first := mustPublish(t, s, `{"id":1}`) // to a and b
	second := mustPublish(t, s, `{"id":2}`)
	// first[0] fails once (retrying), second[0] is in flight: both of webhook a.
	cs := claimAll(t, s)
	var retried, inflight *hookd.Claim
	for _, c := range cs {
		switch c.Delivery.ID {
		case first[0].ID:
			retried = c
		case second[0].ID:
			inflight = c
		}
	}
	next := clk.Now().Add(time.Hour)
	fail(t, s, next, retried)
	if inflight == nil {
		t.Fatal("got no claim of the second delivery")
	}
	for _, c := range cs {
		if c.Delivery.WebhookID == other.ID {
			fail(t, s, next, c)
		}
	}

	clk.Add(time.Second)
	paused := setHealth(t, s, w.ID, "", hookd.HealthPaused, hookd.NeverProbe)
	if paused.Health != hookd.HealthPaused || paused.HealthSince == nil || !paused.HealthSince.Equal(clk.Now().Truncate(time.Microsecond)) ||
		paused.ProbeAt == nil || !paused.ProbeAt.Equal(hookd.NeverProbe) {
		t.Errorf("got health %s since %v probe %v, want paused since now, probe never", paused.Health, paused.HealthSince, paused.ProbeAt)
	}
	got := states(t, s, []*hookd.Delivery{first[0], second[0], first[1]})
	want := map[int64]hookd.DeliveryState{
		first[0].ID:  hookd.DeliveryStateHeld,     // retrying → held
		second[0].ID: hookd.DeliveryStateInflight, // in flight: its result will tell
		first[1].ID:  hookd.DeliveryStateRetrying, // another webhook's
	}
	if !mapsEqual(got, want) {
		t.Errorf("after pause got %v, want %v", got, want)
	}
	third := mustPublish(t, s, `{"id":3}`)
	if third[0].State != hookd.DeliveryStateHeld || third[1].State != hookd.DeliveryStatePending {
		t.Errorf("got published states %s, %s, want held for the paused webhook, pending for the other", third[0].State, third[1].State)
	}
	retry, err := s.DeliveryRetry(ctx, &hookd.DeliveryRetryParams{IDs: []int64{second[0].ID}, CreatedBy: "u1"})
	if err != nil || len(retry) != 1 || retry[0].State != hookd.DeliveryStateHeld {
		t.Fatalf("got retry %v, %v, want one held delivery", retry, err)
	}
	st, err := s.DeliveryStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Held != 3 || st.Backlog() != 3+1+2+1 {
		t.Errorf("got held %d backlog %d, want 3 and 7", st.Held, st.Backlog())
	}
	clk.Add(30 * time.Second) // the in-flight lease still holds
	for _, c := range claimAll(t, s) {
		if c.Delivery.WebhookID == w.ID {
			t.Errorf("claimed delivery %d of the paused webhook", c.Delivery.ID)
		}
	}

	// Resume: never-tried deliveries are pending again, the retried one retrying, due as before.
	resumed := setHealth(t, s, w.ID, hookd.HealthPaused, hookd.HealthHealthy, time.Time{})
	if resumed.State() != hookd.HealthHealthy || resumed.ProbeAt != nil || resumed.Probes != 0 {
		t.Errorf("got %s probe %v probes %d, want healthy without probe", resumed.State(), resumed.ProbeAt, resumed.Probes)
	}
	got = states(t, s, []*hookd.Delivery{first[0], third[0], retry[0]})
	want = map[int64]hookd.DeliveryState{
		first[0].ID: hookd.DeliveryStateRetrying, third[0].ID: hookd.DeliveryStatePending, retry[0].ID: hookd.DeliveryStatePending,
	}
	if !mapsEqual(got, want) {
		t.Errorf("after resume got %v, want %v", got, want)
	}
	if d, _ := s.DeliveryGet(ctx, first[0].ID); !d.NextAttemptAt.Equal(next.Truncate(time.Microsecond)) {
		t.Errorf("got next attempt %v, want %v kept", d.NextAttemptAt, next)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestHealthSetIsACompareAndSet(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	w := mustWebhook(t, s, "a")
	if w.Health != "" || w.HealthSince != nil {
		t.Fatalf("got new webhook health %q since %v, want \"\" and nil", w.Health, w.HealthSince)
	}
	// healthy → healthy with a reason: the state and its (nil) start stay.
	same := setHealth(t, s, w.ID, hookd.HealthHealthy, hookd.HealthHealthy, time.Time{})
	if same.State() != hookd.HealthHealthy || same.HealthSince != nil {
		t.Errorf("got %s since %v, want healthy since nil", same.State(), same.HealthSince)
	}
	t0 := clk.Now().Truncate(time.Microsecond)
	deg := setHealth(t, s, w.ID, "", hookd.HealthDegraded, time.Time{})
	clk.Add(time.Minute)
	again := setHealth(t, s, w.ID, hookd.HealthDegraded, hookd.HealthDegraded, time.Time{})
	if deg.Health != hookd.HealthDegraded || !again.HealthSince.Equal(t0) {
		t.Errorf("got %s since %v, want degraded since %v (a new reason keeps it)", again.Health, again.HealthSince, t0)
	}
	// A caller that saw healthy changes nothing and learns the state.
	cur, ok, err := s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthHealthy, To: hookd.HealthPaused})
	if err != nil || ok || cur.Health != hookd.HealthDegraded {
		t.Errorf("got %v, %v, %v, want the degraded webhook unchanged", cur.Health, ok, err)
	}
	_, _, err = s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: w.ID, From: hookd.HealthDegraded, To: hookd.HealthDisabled})
	if hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("got %v setting disabled, want invalid", err)
	}
	_, _, err = s.WebhookHealthSet(ctx, &hookd.WebhookHealthParams{ID: 999, From: hookd.HealthHealthy, To: hookd.HealthPaused})
	if hookd.ErrorCode(err) != hookd.ENOTFOUND {
		t.Errorf("got %v for a missing webhook, want not found", err)
	}
	// Enabling resumes: healthy since now, reason cleared.
	setHealth(t, s, w.ID, hookd.HealthDegraded, hookd.HealthPaused, clk.Now())
	if _, err := s.WebhookSetEnabled(ctx, w.ID, false, "u1", ""); err != nil {
		t.Fatal(err)
	}
	ds := mustPublish(t, s, `{}`) // disabled: no delivery
	clk.Add(time.Minute)
	on, err := s.WebhookSetEnabled(ctx, w.ID, true, "u1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 || on.Health != hookd.HealthHealthy || on.HealthReason != "" || on.ProbeAt != nil ||
		!on.HealthSince.Equal(clk.Now().Truncate(time.Microsecond)) {
		t.Errorf("got %s %q probe %v since %v, want healthy since now", on.Health, on.HealthReason, on.ProbeAt, on.HealthSince)
	}
}

func TestProbeReleasesTheOldestHeld(t *testing.T) {
	t.Parallel()
	clk := newClock()
	url := pgtest.TestURL(t)
	a, b := openClocked(t, url, clk), openClocked(t, url, clk)
	ctx := context.Background()
	w := mustWebhook(t, a, "a")
	manual := mustWebhook(t, a, "manual")
	off := mustWebhook(t, a, "off")
	setHealth(t, a, manual.ID, "", hookd.HealthPaused, hookd.NeverProbe)
	setHealth(t, a, off.ID, "", hookd.HealthPaused, clk.Now())
	if _, err := a.WebhookSetEnabled(ctx, off.ID, false, "u1", ""); err != nil {
		t.Fatal(err)
	}
	older := mustPublish(t, a, `{"id":1}`)[0]
	fail(t, a, clk.Now().Add(time.Second), claimAll(t, a)...) // older: retrying, due in 1 s
	clk.Add(500 * time.Millisecond)
	newer := mustPublish(t, a, `{"id":2}`)[0] // due now: sooner than older
	setHealth(t, a, w.ID, "", hookd.HealthPaused, clk.Now().Add(5*time.Second))

	if ws, err := a.WebhookProbeDue(ctx, time.Minute); err != nil || len(ws) != 0 {
		t.Fatalf("got %d probes, %v before the probe time, want none", len(ws), err)
	}
	clk.Add(5 * time.Second)
	// Two nodes at once: one of them probes the webhook, once.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []int64
	)
	for _, s := range []*postgres.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := s.WebhookProbeDue(ctx, time.Minute)
			if err != nil {
				t.Errorf("WebhookProbeDue: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, w := range ws {
				got = append(got, w.ID)
				if want := clk.Now().Add(time.Minute).Truncate(time.Microsecond); !w.ProbeAt.Equal(want) {
					t.Errorf("got probe at %v, want %v (now + lease)", w.ProbeAt, want)
				}
			}
		}()
	}
	wg.Wait()
	if !slices.Equal(got, []int64{w.ID}) {
		t.Errorf("got probed webhooks %v, want only %d once", got, w.ID)
	}
	// The newer delivery is due sooner: it is the probe, due now, pending.
	st := states(t, a, []*hookd.Delivery{older, newer})
	if st[newer.ID] != hookd.DeliveryStatePending || st[older.ID] != hookd.DeliveryStateHeld {
		t.Errorf("got %v, want %d pending (the probe) and %d held", st, newer.ID, older.ID)
	}
	cs := claimAll(t, b)
	if len(cs) != 1 || cs[0].Delivery.ID != newer.ID {
		t.Fatalf("got %d claims, want the probe only", len(cs))
	}
	// The probe failed: paused again, and the probe is held again.
	fail(t, b, clk.Now().Add(time.Minute), cs[0])
	setHealth(t, b, w.ID, hookd.HealthPaused, hookd.HealthPaused, clk.Now().Add(10*time.Second))
	if st := states(t, a, []*hookd.Delivery{newer}); st[newer.ID] != hookd.DeliveryStateHeld {
		t.Errorf("got failed probe %s, want held again", st[newer.ID])
	}
}

// TestResumeRacingPublishLeavesNothingHeld pauses and resumes a webhook over and over while
// publishers publish to it: a delivery created held against a health that a resume has just
// changed would stay held on a healthy webhook for ever.
func TestResumeRacingPublishLeavesNothingHeld(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	a, b := openOn(t, url), openOn(t, url)
	ctx := context.Background()
	w := mustWebhook(t, a, "a")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		s := []*postgres.Store{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`)}); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		}()
	}
	for range 40 {
		setHealth(t, b, w.ID, "", hookd.HealthPaused, hookd.NeverProbe)
		setHealth(t, a, w.ID, hookd.HealthPaused, hookd.HealthHealthy, time.Time{})
	}
	close(stop)
	wg.Wait()
	st, err := a.DeliveryStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Held != 0 || st.Pending == 0 {
		t.Errorf("got %d held, %d pending after the last resume, want 0 held", st.Held, st.Pending)
	}
}

// TestProbeSkipsDeliveriesTheirKeyBlocks pauses an ordered webhook whose key's head waits for
// a retry later than its successor is due: the probe must be the head, which can go out, not
// the successor, which its key would keep back for ever.
func TestProbeSkipsDeliveriesTheirKeyBlocks(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	w := orderedWebhook(t, s, "ordered")
	head := publishKeys(t, s, "a")[0][0]
	fail(t, s, clk.Now().Add(time.Hour), claimAll(t, s)...)
	next := publishKeys(t, s, "a")[0][0] // due now, before the head
	setHealth(t, s, w.ID, "", hookd.HealthPaused, clk.Now())
	if ws, err := s.WebhookProbeDue(ctx, time.Minute); err != nil || len(ws) != 1 {
		t.Fatalf("got %d probes, %v, want 1", len(ws), err)
	}
	st := states(t, s, []*hookd.Delivery{head, next})
	if st[head.ID] != hookd.DeliveryStateRetrying || st[next.ID] != hookd.DeliveryStateHeld {
		t.Errorf("got %v, want the head %d retrying (the probe) and %d held", st, head.ID, next.ID)
	}
	if cs := claimAll(t, s); len(cs) != 1 || cs[0].Delivery.ID != head.ID {
		t.Errorf("got claims %v, want the head, due now", claimedIDs(cs))
	}
}
