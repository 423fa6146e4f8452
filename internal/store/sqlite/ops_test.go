package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/storetest"
)

// countEvents returns how many event rows the database holds.
func countEvents(t testing.TB, s *Store) int {
	t.Helper()
	var n int
	if err := s.read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneDeletesEventsWithoutDeliveries checks what the contract suite cannot see: events go
// with their last delivery, and old events that never had one are swept too.
func TestPruneDeletesEventsWithoutDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := storetest.NewClock(storetest.T0)
	s := openTest(t, "hookd.db", clock)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	publish := func() []*hookd.Delivery {
		_, ds, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	publish() // no webhook yet: an event without deliveries
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "w", URI: "https://x.example", Secret: "s", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	publish()
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1, Lease: time.Minute})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d claims, err %v", len(cs), err)
	}
	err = s.AttemptRecord(ctx, []*hookd.AttemptResult{{
		Attempt:    hookd.Attempt{DeliveryID: cs[0].Delivery.ID, StartedAt: clock.Now(), Status: 200},
		ClaimToken: cs[0].Token, Outcome: hookd.OutcomeDelivered,
	}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	publish() // young: stays
	if got := countEvents(t, s); got != 3 {
		t.Fatalf("got %d events, want 3", got)
	}
	n, err := s.DeliveryPrune(ctx, storetest.T0.Add(time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("prune: got %d, err %v, want 1", n, err)
	}
	if got := countEvents(t, s); got != 1 {
		t.Errorf("got %d events after prune, want 1 (the young one)", got)
	}
	var attempts int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts`).Scan(&attempts); err != nil || attempts != 0 {
		t.Errorf("got %d attempts after prune (err %v), want 0", attempts, err)
	}
}
