package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, as the store uses
)

// sqliteDB generates and counts rows in a hookd SQLite file. Times are unix microseconds, as
// the store keeps them.
type sqliteDB struct {
	db *sql.DB
}

func openSQLiteDB(ctx context.Context, path string) (*sqliteDB, error) {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath()}
	// busy_timeout: the server writes meanwhile; wait for its lock rather than fail.
	// synchronous(OFF) on this connection only: a generated database that a crash loses is
	// generated again, and it makes bulk inserts several times faster.
	db, err := sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer, as in the store
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &sqliteDB{db: db}, nil
}

func (s *sqliteDB) Close() error { return s.db.Close() }

// nextID returns the id after the highest of table, read inside the generating transaction.
func nextID(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("next id of %s: %w", table, err)
	}
	return id, nil
}

// seqCTE numbers the rows of one chunk 0..?1-1.
const seqCTE = `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1)`

// sqliteEventInsert adds events ?2+i with payload sequence ?4+i, created at ?5+i*?6 micros.
const sqliteEventInsert = seqCTE + `
	INSERT INTO events (id, trigger_id, payload, target_id, created_by, created_on)
	SELECT ?2 + i, ?3,
		CAST('{"id":' || (?4 + i) || ',"seq":' || (?4 + i) || ',"ts":' || ((?5 + i * ?6) * 1000) || ?7 AS BLOB),
		'', '', ?5 + i * ?6
	FROM s`

func (s *sqliteDB) insertPending(ctx context.Context, hooks []int64, seq0, n int64, now time.Time) error {
	hooksJSON, _ := json.Marshal(hooks) // []int64 always encodes
	for done := int64(0); done < n; done += historyChunk {
		m := min(historyChunk, n-done)
		err := s.tx(ctx, func(tx *sql.Tx) error {
			e0, err := nextID(ctx, tx, "events")
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, sqliteEventInsert, m, e0, benchTrigger, seq0+done, now.UnixMicro(), 0, payloadTail); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO deliveries
				(webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at)
				SELECT h.value, e.id, e.trigger_id, 'pending', '', e.created_on, e.created_on
				FROM events e, json_each(?3) h WHERE e.id BETWEEN ?1 AND ?2 ORDER BY e.id, h.key`,
				e0, e0+m-1, string(hooksJSON))
			if err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sqliteHistoryDeliveries adds deliveries ?2+i of events ?3+i with attempts ?4+i; see
// historyParams for the mix of outcomes.
const sqliteHistoryDeliveries = seqCTE + `,
	r AS (SELECT i, ?5 + i * ?6 AS created,
		CASE WHEN ?7 OR i % 19 = 0 THEN 500 WHEN i % 19 = 1 THEN 0 ELSE 200 END AS status FROM s)
	INSERT INTO deliveries (id, webhook_id, event_id, trigger_id, state, created_by, created_on,
		next_attempt_at, attempts, status, delivered_on, last_error, last_attempt_id)
	SELECT ?2 + i, h.value, ?3 + i, ?9, CASE status WHEN 200 THEN 'delivered' ELSE 'failed' END, '',
		created, created, 1, status, created + 50000,
		CASE status WHEN 200 THEN '' WHEN 0 THEN 'timeout after 30s' ELSE 'receiver answered 500' END, ?4 + i
	FROM r JOIN json_each(?8) h ON h.key = r.i % json_array_length(?8)`

const sqliteHistoryAttempts = seqCTE + `,
	r AS (SELECT i, ?5 + i * ?6 AS created,
		CASE WHEN ?7 OR i % 19 = 0 THEN 500 WHEN i % 19 = 1 THEN 0 ELSE 200 END AS status FROM s)
	INSERT INTO attempts (id, delivery_id, number, started_at, duration_ns, request_headers,
		request_body, status, response_headers, response_body, error)
	SELECT ?4 + i, ?2 + i, 1, created, 50000000, ?10, ?11, status,
		CASE status WHEN 0 THEN NULL ELSE ?12 END,
		CASE status WHEN 200 THEN CAST('ok' AS BLOB) WHEN 0 THEN x'' ELSE CAST('failing on purpose' AS BLOB) END,
		CASE status WHEN 200 THEN '' WHEN 0 THEN 'timeout after 30s' ELSE 'receiver answered 500' END
	FROM r`

func (s *sqliteDB) insertHistory(ctx context.Context, p *historyParams) error {
	hooksJSON, _ := json.Marshal(p.hooks)
	for done := int64(0); done < p.n; done += historyChunk {
		m := min(historyChunk, p.n-done)
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var ids [3]int64
			for i, table := range []string{"events", "deliveries", "attempts"} {
				var err error
				if ids[i], err = nextID(ctx, tx, table); err != nil {
					return err
				}
			}
			created := p.from.Add(time.Duration(done) * p.step).UnixMicro()
			step := p.step.Microseconds()
			if _, err := tx.ExecContext(ctx, sqliteEventInsert, m, ids[0], benchTrigger, ids[0], created, step, payloadTail); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			args := []any{m, ids[1], ids[0], ids[2], created, step, p.allFailed, string(hooksJSON), benchTrigger}
			if _, err := tx.ExecContext(ctx, sqliteHistoryDeliveries, args...); err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			args = append(args, attemptRequestHeaders, p.requestBody, attemptResponseHeaders)
			if _, err := tx.ExecContext(ctx, sqliteHistoryAttempts, args...); err != nil {
				return fmt.Errorf("insert attempts: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs f in one transaction on the connection.
func (s *sqliteDB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *sqliteDB) countDeliveries(ctx context.Context, where string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE `+where).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

func (s *sqliteDB) oldest(ctx context.Context) (time.Time, error) {
	var us sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(created_on) FROM deliveries`).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("oldest delivery: %w", err)
	}
	if !us.Valid {
		return time.Time{}, nil
	}
	return time.UnixMicro(us.Int64).UTC(), nil
}

// finish checkpoints the WAL so that the server starts on a compact file. It leaves the
// planner statistics alone: hookd never runs ANALYZE, so neither does the benchmark.
func (s *sqliteDB) finish(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
