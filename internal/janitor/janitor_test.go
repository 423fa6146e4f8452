package janitor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// countingStore counts the janitor's calls and remembers the batch sizes asked for.
type countingStore struct {
	Store
	mu       sync.Mutex
	prunes   []int
	replays  []time.Time // the before of each ReplayPrune call
	disables int
	failWith error
}

func (s *countingStore) DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	s.prunes = append(s.prunes, limit)
	err := s.failWith
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if s.Store == nil {
		return 0, nil
	}
	return s.Store.DeliveryPrune(ctx, before, limit)
}

func (s *countingStore) ReplayPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	s.replays = append(s.replays, before)
	s.mu.Unlock()
	if s.Store == nil {
		return 0, nil
	}
	return s.Store.ReplayPrune(ctx, before, limit)
}

func (s *countingStore) WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error) {
	s.mu.Lock()
	s.disables++
	s.mu.Unlock()
	if s.Store == nil {
		return nil, nil
	}
	return s.Store.WebhookDisableFailing(ctx, since, reason)
}

func (s *countingStore) calls() (prunes, disables int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.prunes), s.disables
}

// fixture is a SQLite store with one webhook and deliveries made at known times.
type fixture struct {
	store hookd.Store
	clock *storetest.Clock
	hook  *hookd.Webhook
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.T0)
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "hook", URI: "https://x.example/h", Secret: "top-secret-value", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, clock: clock, hook: w}
}

// deliveries publishes n events and records status for each of their deliveries.
func (f *fixture) deliveries(t testing.TB, n, status int) []int64 {
	t.Helper()
	ctx := context.Background()
	for range n {
		if _, _, err := f.store.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := f.store.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: n, Lease: time.Minute})
	if err != nil || len(cs) != n {
		t.Fatalf("claim: %d of %d, %v", len(cs), n, err)
	}
	var ids []int64
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		o := hookd.OutcomeDelivered
		if status >= 300 {
			o = hookd.OutcomeFailed
		}
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: f.clock.Now(), Status: status, Error: "status 500"},
			ClaimToken: c.Token, Outcome: o,
		})
		ids = append(ids, c.Delivery.ID)
	}
	if err := f.store.AttemptRecord(ctx, rs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// remaining returns the ids of the deliveries still stored, newest first.
func (f *fixture) remaining(t testing.TB) []int64 {
	t.Helper()
	ds, _, err := f.store.DeliveryList(context.Background(), hookd.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func TestPassPrunesOldDeliveriesInBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.deliveries(t, 5, 200) // T0: old
	f.clock.Advance(29 * 24 * time.Hour)
	young := f.deliveries(t, 2, 200) // T0+29d: kept
	f.clock.Advance(2 * 24 * time.Hour)

	store := &countingStore{Store: f.store}
	var logs bytes.Buffer
	j := New(store, f.clock, slog.New(slog.NewTextHandler(&logs, nil)), Config{PruneBatch: 2, PrunePause: time.Millisecond})
	if err := j.Pass(context.Background()); err != nil {
		t.Fatalf("Pass: %v", err)
	}
	got := f.remaining(t)
	if len(got) != 2 || got[0] != young[1] || got[1] != young[0] {
		t.Errorf("got deliveries %v left, want only the young ones %v", got, young)
	}
	if n, _ := store.calls(); n != 3 {
		t.Errorf("got %d prune batches for 5 old deliveries in batches of 2, want 3", n)
	}
	if !strings.Contains(logs.String(), "deliveries=5") {
		t.Errorf("log does not report 5 pruned deliveries:\n%s", logs.String())
	}
	// Finished retry-by-filter jobs go after the same retention (the store's contract suite
	// checks what ReplayPrune deletes).
	if want := f.clock.Now().Add(-DefaultRetention); len(store.replays) != 1 || !store.replays[0].Equal(want) {
		t.Errorf("got ReplayPrune calls before %v, want one before %v", store.replays, want)
	}
}

func TestPassDisablesFailingWebhooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.deliveries(t, 1, 500)
	var logs bytes.Buffer
	j := New(f.store, f.clock, slog.New(slog.NewJSONHandler(&logs, nil)), Config{})

	f.clock.Advance(71 * time.Hour)
	if err := j.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w, _ := f.store.WebhookGet(context.Background(), f.hook.ID); !w.Enabled {
		t.Fatalf("webhook disabled after 71h of failure, want it on until 72h")
	}
	f.clock.Advance(2 * time.Hour)
	if err := j.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	w, err := f.store.WebhookGet(context.Background(), f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "no successful delivery for 72h0m0s"; w.Enabled || w.DisabledReason != want {
		t.Errorf("got enabled=%v reason=%q, want disabled with %q", w.Enabled, w.DisabledReason, want)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"webhook disabled"`) || !strings.Contains(out, `"webhook_id":1`) {
		t.Errorf("no log of the disable with the webhook id:\n%s", out)
	}
	if strings.Contains(out, "top-secret-value") || strings.Contains(out, f.hook.URI) {
		t.Errorf("log carries the secret or the URI:\n%s", out)
	}
}

func TestNegativeAgesTurnStepsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.deliveries(t, 3, 500)
	f.clock.Advance(365 * 24 * time.Hour)
	store := &countingStore{Store: f.store}
	j := New(store, f.clock, slog.New(slog.DiscardHandler), Config{Retention: -1, DisableAfter: -1})
	if err := j.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p, d := store.calls(); p != 0 || d != 0 {
		t.Errorf("got %d prune and %d disable calls, want none", p, d)
	}
	if got := len(f.remaining(t)); got != 3 {
		t.Errorf("got %d deliveries, want all 3 kept", got)
	}
	if err := j.Run(t.Context()); err != nil {
		t.Errorf("Run with nothing to do: %v", err)
	}
}

func TestRunPassesEveryIntervalAndSurvivesErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{failWith: errors.New("database is locked")}
		var logs bytes.Buffer
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
		j := New(store, nil, logger, Config{Interval: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- j.Run(ctx) }()

		synctest.Wait()
		if p, d := store.calls(); p != 1 || d != 1 {
			t.Fatalf("after start: got %d prunes and %d disables, want one pass at once", p, d)
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if p, _ := store.calls(); p != 1 {
			t.Fatalf("before the interval: got %d passes, want 1", p)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if p, d := store.calls(); p != 2 || d != 2 {
			t.Fatalf("after the interval: got %d prunes and %d disables, want 2 passes despite the error", p, d)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: got %v, want nil after cancel", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "database is locked") {
			t.Errorf("the failed pass was not logged:\n%s", logs.String())
		}
	})
}

// lockedWriter serializes writes to a buffer shared with the test.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
