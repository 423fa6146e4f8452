package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// migrateTo applies the first n migrations only.
func migrateTo(t testing.TB, s *Store, n int) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.migrate(context.Background(), ms[:n]); err != nil {
		t.Fatalf("migrate to %d: %v", n, err)
	}
}

// exec runs statements on the writer and fails the test on error.
func exec(t testing.TB, s *Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := s.write.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// queryStrings returns the rows of a one-column query as strings.
func queryStrings(t testing.TB, s *Store, q string) []string {
	t.Helper()
	rows, err := s.write.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateHealthRebuildsDeliveries upgrades a version 4 database with data to version 5:
// the deliveries table is rebuilt (new CHECK) without losing a row, an attempt (cascade), an
// index, or the AUTOINCREMENT high-water mark, and foreign keys are enforced again afterwards.
func TestMigrateHealthRebuildsDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, "v4.db", nil)
	migrateTo(t, s, 4)
	exec(t, s,
		`INSERT INTO webhooks (id, name, uri, secret, ssl, enabled, triggers, created_on) VALUES (1, 'a', 'https://a', 's', 1, 1, 0, 1)`,
		`INSERT INTO events (id, trigger_id, payload, created_on) VALUES (1, 128, x'7b7d', 1)`,
		`INSERT INTO deliveries (id, webhook_id, event_id, trigger_id, state, created_on, next_attempt_at, attempts, status, last_attempt_id)
			VALUES (1, 1, 1, 128, 'delivered', 1, 1, 1, 200, 1), (2, 1, 1, 128, 'retrying', 2, 5, 1, 500, 2),
			       (3, 1, 1, 128, 'pending', 3, 3, 0, 0, NULL), (100, 1, 1, 128, 'failed', 4, 4, 0, 0, NULL)`,
		`INSERT INTO attempts (id, delivery_id, number, started_at, duration_ns, request_body, status, response_body)
			VALUES (1, 1, 1, 1, 1, x'', 200, x''), (2, 2, 1, 2, 1, x'', 500, x'')`,
		`DELETE FROM deliveries WHERE id = 100`, // pruned: its id must never come back
	)
	const rowsQuery = `SELECT id || ',' || state || ',' || attempts || ',' || status || ',' || next_attempt_at || ',' || COALESCE(last_attempt_id, 0) FROM deliveries ORDER BY id`
	before := queryStrings(t, s, rowsQuery)

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := cmp.Diff(before, queryStrings(t, s, rowsQuery)); d != "" {
		t.Errorf("deliveries changed by the migration (-before +after):\n%s", d)
	}
	if got := queryStrings(t, s, `SELECT COUNT(*) FROM attempts`); !slices.Equal(got, []string{"2"}) {
		t.Errorf("got %v attempts after the migration, want 2", got)
	}
	gotIdx := queryStrings(t, s, `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'deliveries' AND sql IS NOT NULL ORDER BY name`)
	wantIdx := []string{"deliveries_delivered_on", "deliveries_due", "deliveries_event", "deliveries_final_created_on",
		"deliveries_held", "deliveries_ordering", "deliveries_retry_of", "deliveries_webhook", "deliveries_webhook_class"}
	if d := cmp.Diff(wantIdx, gotIdx); d != "" {
		t.Errorf("indexes of deliveries (-want +got):\n%s", d)
	}
	if got := queryStrings(t, s, `SELECT sql FROM sqlite_schema WHERE name = 'attempts'`); len(got) != 1 || !strings.Contains(got[0], "REFERENCES deliveries") {
		t.Errorf("got attempts schema %q, want its foreign key on deliveries", got)
	}
	// A new delivery, in the new state, gets an id above the pruned one.
	exec(t, s, `INSERT INTO deliveries (webhook_id, event_id, trigger_id, state, created_on, next_attempt_at, ordering_key)
		VALUES (1, 1, 128, 'held', 5, 5, 'k')`)
	if got := queryStrings(t, s, `SELECT MAX(id) FROM deliveries`); !slices.Equal(got, []string{"101"}) {
		t.Errorf("got new delivery id %v, want 101 (never reuse a pruned id)", got)
	}
	// Foreign keys are on again on the writer: a dangling reference fails, a delete cascades.
	if _, err := s.write.ExecContext(ctx, `INSERT INTO deliveries (webhook_id, event_id, trigger_id, state, created_on, next_attempt_at)
		VALUES (99, 1, 128, 'pending', 5, 5)`); err == nil {
		t.Errorf("got a delivery of a missing webhook stored, want a foreign key error")
	}
	exec(t, s, `DELETE FROM webhooks WHERE id = 1`)
	if got := queryStrings(t, s, `SELECT (SELECT COUNT(*) FROM deliveries) + (SELECT COUNT(*) FROM attempts)`); !slices.Equal(got, []string{"0"}) {
		t.Errorf("got %v deliveries and attempts after deleting their webhook, want 0", got)
	}
}
