package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
)

// benchDB is the benchmark's own connection to the server's database, for what the API does
// not offer: bulk generation of deliveries, and counting those still waiting for their first
// attempt (the drain counts a delivery only once its attempt is recorded). Each backend writes
// its own SQL against the schema its store migrated.
type benchDB interface {
	// insertPending adds n events with sequence numbers seq0..seq0+n-1, each with one pending
	// delivery due now for every webhook in hooks.
	insertPending(ctx context.Context, hooks []int64, seq0, n int64, now time.Time) error
	// insertHistory adds finished deliveries, one event and one attempt each.
	insertHistory(ctx context.Context, p *historyParams) error
	// countDeliveries counts the deliveries that match where, an SQL condition both
	// backends read alike (waitingFirst, heldFirst).
	countDeliveries(ctx context.Context, where string) (int64, error)
	// oldest returns the created_on of the oldest delivery, the zero time when there is none.
	oldest(ctx context.Context) (time.Time, error)
	// finish brings the database's bookkeeping up to date after bulk inserts (sequences,
	// planner statistics where the backend would gather them by itself).
	finish(ctx context.Context) error
	Close() error
}

// Conditions for countDeliveries.
const (
	// waitingFirst: deliveries whose first attempt is not recorded yet.
	waitingFirst = `state IN ('pending', 'inflight') AND attempts = 0`
	// heldFirst: held deliveries (their webhook paused) that were never attempted; they
	// reach the receiver only once the webhook resumes, if ever during a run.
	heldFirst = `state = 'held' AND attempts = 0`
)

// historyParams describe a block of finished deliveries.
type historyParams struct {
	hooks []int64 // webhooks, taken in turn
	n     int64
	from  time.Time     // created_on of the first delivery
	step  time.Duration // between consecutive deliveries' created_on
	// allFailed makes every delivery failed with a 500; otherwise one in 19 is failed with a
	// 500, one in 19 failed without an answer (status 0), and the rest delivered with a 200.
	// (19 is prime, so the failures spread over every webhook taken in turn.)
	allFailed bool
	// requestBody is stored as every attempt's request body.
	requestBody []byte
}

// historyChunk is the most rows one generating statement inserts: large enough to be fast,
// small enough to keep transactions and memory modest.
const historyChunk = 50_000

// attemptRequestHeaders and attemptResponseHeaders are stored with every generated attempt,
// as the delivery worker stores them.
const (
	attemptRequestHeaders  = `{"Accept":["*/*"],"User-Agent":["hookd/bench"],"X-Docspace-Signature-256":["sha256=6A1B0C4F2D9E8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B"]}`
	attemptResponseHeaders = `{"Content-Length":["2"],"Content-Type":["text/plain; charset=utf-8"],"Date":["Mon, 02 Mar 2026 10:00:00 GMT"]}`
)

// openBenchDB opens the database a hookd database URL names.
func openBenchDB(ctx context.Context, db string) (benchDB, error) {
	backend, target, err := server.ParseDB(db)
	if err != nil {
		return nil, err
	}
	if backend == "postgres" {
		return openPostgresDB(ctx, target)
	}
	return openSQLiteDB(ctx, target)
}

// sampleRequestBody is a realistic delivery envelope, stored as the request of generated
// attempts.
func sampleRequestBody() []byte {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ev := &hookd.Event{ID: 1, Trigger: benchTrigger, Payload: payload(1, now.UnixNano()), CreatedOn: now,
		CreatedBy: "0b8c9a4e-1234-4cde-8f00-aabbccddeeff"}
	w := &hookd.Webhook{ID: 1, Name: "bench", URI: "http://127.0.0.1:9/ok/bench"}
	b, err := hookd.BuildBody(ev, w, 1, nil)
	if err != nil {
		panic(fmt.Sprintf("bench: build sample body: %v", err)) // fixed input: cannot fail
	}
	return b
}

// dbSize returns the bytes the database takes on disk: the SQLite file with its WAL, or
// pg_database_size.
func dbSize(ctx context.Context, db benchDB, url string) (int64, error) {
	if p, ok := db.(*postgresDB); ok {
		var n int64
		if err := p.conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
			return 0, fmt.Errorf("database size: %w", err)
		}
		return n, nil
	}
	_, path, err := server.ParseDB(url)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n, nil
}
