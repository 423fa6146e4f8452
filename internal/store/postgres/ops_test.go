package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// openClocked opens a store on url with clock, closed when the test ends.
func openClocked(t testing.TB, url string, c hookd.Clock) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, c)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// count returns the number of rows of a table.
func count(t testing.TB, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// deliverAll claims every due delivery and records a 200 for each.
func deliverAll(t testing.TB, s hookd.Store, at time.Time) int {
	t.Helper()
	ctx := context.Background()
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1000, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: at, Status: 200},
			ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
		})
	}
	if err := s.AttemptRecord(ctx, rs); err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// TestPruneDeletesEventsWithoutDeliveries checks what the contract suite cannot see: events go
// with their last delivery, and old events that never had one are swept too.
func TestPruneDeletesEventsWithoutDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.TestURL(t)
	c := newClock()
	t0 := c.Now()
	s := openClocked(t, url, c)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	mustPublish(t, s, `{"n":1}`) // no webhook yet: an event without deliveries
	mustWebhook(t, s, "a")
	mustPublish(t, s, `{"n":2}`)
	deliverAll(t, s, c.Now())
	c.Add(time.Hour)
	mustPublish(t, s, `{"n":3}`) // young: stays
	if got := count(t, conn, "events"); got != 3 {
		t.Fatalf("got %d events, want 3", got)
	}
	n, err := s.DeliveryPrune(ctx, t0.Add(time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("prune: got %d, err %v, want 1", n, err)
	}
	if got := count(t, conn, "events"); got != 1 {
		t.Errorf("got %d events after prune, want 1 (the young one)", got)
	}
	if got := count(t, conn, "attempts"); got != 0 {
		t.Errorf("got %d attempts after prune, want 0", got)
	}
}

// TestPruneFromTwoNodes prunes one database from two stores at once: SKIP LOCKED makes them
// take disjoint batches, and together they delete every old delivery exactly once.
func TestPruneFromTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.TestURL(t)
	c := newClock()
	nodes := []*postgres.Store{openClocked(t, url, c), openClocked(t, url, c)}
	mustWebhook(t, nodes[0], "a")
	mustWebhook(t, nodes[0], "b")
	const events = 100
	for i := range events {
		mustPublish(t, nodes[0], `{"i":`+string(rune('0'+i%10))+`}`)
	}
	if got := deliverAll(t, nodes[0], c.Now()); got != 2*events {
		t.Fatalf("delivered %d, want %d", got, 2*events)
	}
	c.Add(time.Hour)
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	for _, s := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.DeliveryPrune(ctx, c.Now(), 7)
				if err != nil {
					t.Errorf("prune: %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if total != 2*events {
		t.Errorf("the nodes pruned %d deliveries in all, want %d", total, 2*events)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"deliveries", "attempts", "events"} {
		if got := count(t, conn, table); got != 0 {
			t.Errorf("got %d rows in %s after pruning, want 0", got, table)
		}
	}
}
