package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// openOn opens another Store on the database at url, closed when the test ends.
func openOn(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestClaimsNeverOverlap(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	nodes := []*postgres.Store{openOn(t, url), openOn(t, url)}
	ctx := context.Background()
	const webhooks, events = 10, 30
	for range webhooks {
		mustWebhook(t, nodes[0], "w")
	}
	for range events {
		mustPublish(t, nodes[1], `{}`)
	}

	// Two "nodes", three claimers each, small batches: every delivery is claimed by exactly
	// one of them, and together they claim them all.
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, 6)
	)
	for i := range 6 {
		s := nodes[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 7, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					claimed[c.Delivery.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("claim: %v", err)
	}
	if len(claimed) != webhooks*events {
		t.Errorf("got %d deliveries claimed, want %d", len(claimed), webhooks*events)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times, want once", id, n)
		}
	}
}

func TestConcurrentRecordsAndDeletes(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	a, b := openOn(t, url), openOn(t, url)
	ctx := context.Background()
	var ws []*hookd.Webhook
	for range 6 {
		ws = append(ws, mustWebhook(t, a, "w"))
	}
	for range 10 {
		mustPublish(t, a, `{}`)
	}
	cs, err := a.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1000, Lease: time.Hour})
	if err != nil || len(cs) != 60 {
		t.Fatalf("got %d claims, %v, want 60", len(cs), err)
	}
	// Batches touching the same webhooks in opposite orders, and deletes of some of those
	// webhooks, all at once: locks taken in one order mean no deadlock fails a batch.
	batch := func(claims []*hookd.Claim) []*hookd.AttemptResult {
		var rs []*hookd.AttemptResult
		for _, c := range claims {
			rs = append(rs, &hookd.AttemptResult{
				Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: 500},
				ClaimToken: c.Token, Outcome: hookd.OutcomeFailed,
			})
		}
		return rs
	}
	reversed := make([]*hookd.Claim, len(cs))
	for i, c := range cs {
		reversed[len(cs)-1-i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn()
		}()
	}
	run(func() error { return a.AttemptRecord(ctx, batch(cs[:40])) })
	run(func() error { return b.AttemptRecord(ctx, batch(reversed[:40])) })
	run(func() error { _, err := b.WebhookDelete(ctx, ws[0].ID); return err })
	run(func() error { _, err := a.WebhookDelete(ctx, ws[5].ID); return err })
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("got %v, want every batch and delete to succeed", err)
		}
	}
	ds, total, err := a.DeliveryList(ctx, hookd.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 40 {
		t.Errorf("got %d deliveries left, want 40 after deleting two webhooks of six", total)
	}
	for _, d := range ds {
		if d.State == hookd.DeliveryStateFailed && d.Attempts != 1 {
			t.Errorf("delivery %d: got %d attempts, want 1 (one of the two results is stale)", d.ID, d.Attempts)
		}
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyURL(t)
	nodes := []*postgres.Store{openOn(t, url), openOn(t, url), openOn(t, url)}
	ctx := context.Background()
	if err := nodes[0].Ping(ctx); hookd.ErrorCode(err) != hookd.EUNAVAILABLE {
		t.Fatalf("got %v from Ping before Migrate, want unavailable", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for i := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- nodes[i%3].Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	for _, s := range nodes {
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping after Migrate: %v", err)
		}
	}
	// The schema works, and migrating again is a no-op.
	mustWebhook(t, nodes[1], "a")
	if err := nodes[2].Migrate(ctx); err != nil {
		t.Errorf("second Migrate: %v", err)
	}
}

func TestSchemaNewerThanBinary(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	s := openOn(t, url)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A newer binary migrated the database during a rolling upgrade.
	if _, err := conn.Exec(ctx, `INSERT INTO hookd_migrations (version, name, applied_on) VALUES (999, '999_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("got %v from Ping on a newer schema, want nil: old nodes stay ready", err)
	}
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("got %v from Migrate on a newer schema, want a refusal", err)
	}
}
