package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// countsDiffSQL lists the keys where the counters (folded rows and deltas) and a count of the
// deliveries disagree, and the deliveries outside the id bounds of their key.
const countsDiffSQL = `WITH c AS (
		SELECT bucket, webhook_id, trigger, class, sum(n) AS n, min(lo) AS lo, max(hi) AS hi
		FROM (SELECT bucket, webhook_id, trigger, class, n, lo, hi FROM delivery_counts
			UNION ALL SELECT bucket, webhook_id, trigger, class, n, lo, hi FROM delivery_count_deltas) x
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
	), d AS (
		SELECT delivery_hour(delivered_on) AS bucket, webhook_id, trigger, delivery_class(status, attempts) AS class,
			count(*) AS n, min(id) AS lo, max(id) AS hi
		FROM deliveries GROUP BY 1, 2, 3, 4
	)
	SELECT format('key (%s, %s, %s, %s): counters %s [%s, %s], deliveries %s [%s, %s]',
		coalesce(c.bucket, d.bucket), coalesce(c.webhook_id, d.webhook_id), coalesce(c.trigger, d.trigger),
		coalesce(c.class, d.class), c.n, c.lo, c.hi, d.n, d.lo, d.hi)
	FROM c FULL JOIN d USING (bucket, webhook_id, trigger, class)
	WHERE c.n IS DISTINCT FROM d.n OR d.lo < c.lo OR d.hi > c.hi`

// checkCounts fails the test when the counters do not match the deliveries.
func checkCounts(t *testing.T, conn *pgx.Conn, step string) {
	t.Helper()
	rows, err := conn.Query(context.Background(), countsDiffSQL)
	if err != nil {
		t.Fatalf("%s: compare counters: %v", step, err)
	}
	diffs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: compare counters: %v", step, err)
	}
	for _, d := range diffs {
		t.Errorf("%s: %s", step, d)
	}
}

// tableCount returns the rows of a table matching cond.
func tableCount(t *testing.T, conn *pgx.Conn, table, cond string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+cond).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestListingCountsFollowConcurrentWriters runs publishers, claimers and recorders on two
// stores at once, then prunes and deletes a webhook, and checks at each step that the
// counters match the deliveries: the triggers count every change, the folds that writers
// run by themselves lose nothing, and no writer deadlocks on them.
func TestListingCountsFollowConcurrentWriters(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	nodes := []hookd.Store{openOn(t, url), openOn(t, url)}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var hooks []*hookd.Webhook
	for i := range 3 {
		hooks = append(hooks, mustWebhook(t, nodes[0], fmt.Sprintf("w%d", i)))
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		s := nodes[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- countsWorkload(ctx, s, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkCounts(t, conn, "after the writers")
	if n := tableCount(t, conn, "delivery_counts", "true"); n == 0 {
		t.Errorf("got no folded counter rows after %d delta rows, want the writers to have folded",
			tableCount(t, conn, "delivery_count_deltas", "true"))
	}

	if _, err := nodes[0].DeliveryPrune(ctx, time.Now().Add(time.Hour), 50); err != nil {
		t.Fatalf("DeliveryPrune: %v", err)
	}
	checkCounts(t, conn, "after a prune")
	if _, err := nodes[1].WebhookDelete(ctx, hooks[1].ID); err != nil {
		t.Fatalf("WebhookDelete: %v", err)
	}
	checkCounts(t, conn, "after a webhook delete")

	if _, err := conn.Exec(ctx, `SELECT delivery_counts_fold()`); err != nil {
		t.Fatalf("fold: %v", err)
	}
	checkCounts(t, conn, "after a fold")
	if n := tableCount(t, conn, "delivery_count_deltas", "true"); n != 0 {
		t.Errorf("got %d deltas after a fold, want 0", n)
	}
	if n := tableCount(t, conn, "delivery_counts", "n = 0"); n != 0 {
		t.Errorf("got %d counter rows at zero after a fold, want 0", n)
	}
}

// countsWorkload publishes events and gives their deliveries every kind of answer, some
// recorded twice (a stale claim), and retries a few by hand.
func countsWorkload(ctx context.Context, s hookd.Store, worker int) error {
	for round := range 40 {
		var ps []*hookd.EventPublishParams
		for range 3 {
			ps = append(ps, &hookd.EventPublishParams{Trigger: 1 << (7 + worker%2), Payload: []byte(`{}`), UserID: "u1"})
		}
		if _, err := s.EventPublishBatch(ctx, ps); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 7, Lease: time.Hour})
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var rs []*hookd.AttemptResult
		for i, c := range cs {
			status := []int{200, 500, 0, 404, 302, 150}[(round+i)%6]
			r := &hookd.AttemptResult{
				Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: status},
				ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
			}
			switch {
			case status < 200 || status >= 300:
				r.Outcome, r.NextAttemptAt = hookd.OutcomeRetry, time.Now()
			case i%4 == 0:
				rs = append(rs, r) // the same attempt twice: the second is stale
			}
			rs = append(rs, r)
		}
		if err := s.AttemptRecord(ctx, rs); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if len(cs) > 0 && round%5 == 0 {
			if _, err := s.DeliveryRetry(ctx, &hookd.DeliveryRetryParams{IDs: []int64{cs[0].Delivery.ID}, CreatedBy: "u1"}); err != nil {
				return fmt.Errorf("retry: %w", err)
			}
		}
	}
	return nil
}
