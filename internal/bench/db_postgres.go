package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDB generates and counts rows in a hookd PostgreSQL database. Rows are made by
// generate_series inside the server: nothing is streamed from Go.
type postgresDB struct {
	conn *pgx.Conn
}

func openPostgresDB(ctx context.Context, url string) (*postgresDB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: keep only that it failed.
		return nil, errors.New("the PostgreSQL URL cannot be parsed")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &postgresDB{conn: conn}, nil
}

func (p *postgresDB) Close() error { return p.conn.Close(context.Background()) }

func (p *postgresDB) nextID(ctx context.Context, tx pgx.Tx, table string) (int64, error) {
	var id int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&id); err != nil {
		return 0, fmt.Errorf("next id of %s: %w", table, err)
	}
	return id, nil
}

// pgEventInsert adds events $2+i with payload sequence $4+i, created at $5 + i*$6 µs.
const pgEventInsert = `INSERT INTO events (id, trigger, payload, target_id, created_by, created_on)
	SELECT $2::bigint + i, $3::bigint,
		('{"id":' || ($4::bigint + i) || ',"seq":' || ($4::bigint + i) || ',"ts":' ||
		 ((extract(epoch FROM $5::timestamptz)::numeric * 1000000 + i * $6::bigint) * 1000)::bigint || $7::text)::json,
		'', '', $5::timestamptz + (i * $6::bigint) * interval '1 microsecond'
	FROM generate_series(0, $1::bigint - 1) AS i`

func (p *postgresDB) insertPending(ctx context.Context, hooks []int64, seq0, n int64, now time.Time) error {
	for done := int64(0); done < n; done += historyChunk {
		m := min(historyChunk, n-done)
		err := pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error {
			e0, err := p.nextID(ctx, tx, "events")
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, pgEventInsert, m, e0, benchTrigger, seq0+done, now, 0, payloadTail); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO deliveries
				(webhook_id, event_id, trigger, state, created_by, created_on, next_attempt_at)
				SELECT h.id, e.id, e.trigger, 'pending', '', e.created_on, e.created_on
				FROM events e, unnest($3::bigint[]) WITH ORDINALITY AS h(id, n)
				WHERE e.id BETWEEN $1 AND $2 ORDER BY e.id, h.n`, e0, e0+m-1, hooks)
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

// pgHistoryRows numbers a chunk's rows and picks each one's outcome; see historyParams.
const pgHistoryRows = `WITH r AS (
	SELECT i, $3::bigint + i AS event_id, $5::timestamptz + (i * $6::bigint) * interval '1 microsecond' AS created,
		CASE WHEN $7::boolean OR i % 19 = 0 THEN 500 WHEN i % 19 = 1 THEN 0 ELSE 200 END AS status
	FROM generate_series(0, $1::bigint - 1) AS i)`

const pgHistoryDeliveries = pgHistoryRows + `
	INSERT INTO deliveries (id, webhook_id, event_id, trigger, state, created_by, created_on,
		next_attempt_at, attempts, status, delivered_on, last_error, last_attempt_id)
	SELECT $2::bigint + i, ($8::bigint[])[1 + i % cardinality($8::bigint[])], event_id, $9::bigint,
		CASE status WHEN 200 THEN 'delivered' ELSE 'failed' END, '', created, created, 1, status,
		created + interval '50 milliseconds',
		CASE status WHEN 200 THEN '' WHEN 0 THEN 'timeout after 30s' ELSE 'receiver answered 500' END,
		$4::bigint + i
	FROM r`

const pgHistoryAttempts = pgHistoryRows + `
	INSERT INTO attempts (id, delivery_id, number, started_at, duration_ns, request_headers,
		request_body, status, response_headers, response_body, error)
	SELECT $4::bigint + i, $2::bigint + i, 1, created, 50000000, $8::jsonb, $9::bytea, status,
		CASE status WHEN 0 THEN NULL ELSE $10::jsonb END,
		CASE status WHEN 200 THEN 'ok'::bytea WHEN 0 THEN ''::bytea ELSE 'failing on purpose'::bytea END,
		CASE status WHEN 200 THEN '' WHEN 0 THEN 'timeout after 30s' ELSE 'receiver answered 500' END
	FROM r`

func (p *postgresDB) insertHistory(ctx context.Context, hp *historyParams) error {
	for done := int64(0); done < hp.n; done += historyChunk {
		m := min(historyChunk, hp.n-done)
		err := pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error {
			var ids [3]int64
			for i, table := range []string{"events", "deliveries", "attempts"} {
				var err error
				if ids[i], err = p.nextID(ctx, tx, table); err != nil {
					return err
				}
			}
			created := hp.from.Add(time.Duration(done) * hp.step)
			step := hp.step.Microseconds()
			if _, err := tx.Exec(ctx, pgEventInsert, m, ids[0], benchTrigger, ids[0], created, step, payloadTail); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
			if _, err := tx.Exec(ctx, pgHistoryDeliveries, m, ids[1], ids[0], ids[2], created, step, hp.allFailed,
				hp.hooks, benchTrigger); err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
			if _, err := tx.Exec(ctx, pgHistoryAttempts, m, ids[1], ids[0], ids[2], created, step, hp.allFailed,
				attemptRequestHeaders, hp.requestBody, attemptResponseHeaders); err != nil {
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

func (p *postgresDB) countDeliveries(ctx context.Context, where string) (int64, error) {
	var n int64
	if err := p.conn.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE `+where).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

func (p *postgresDB) oldest(ctx context.Context) (time.Time, error) {
	var t *time.Time
	if err := p.conn.QueryRow(ctx, `SELECT MIN(created_on) FROM deliveries`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("oldest delivery: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// finish moves the identity sequences past the generated ids, and gathers the planner
// statistics autovacuum would gather by itself a moment later.
func (p *postgresDB) finish(ctx context.Context) error {
	for _, table := range []string{"events", "deliveries", "attempts"} {
		if _, err := p.conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'),
			GREATEST((SELECT MAX(id) FROM `+table+`), 1))`); err != nil {
			return fmt.Errorf("advance the id sequence of %s: %w", table, err)
		}
	}
	if _, err := p.conn.Exec(ctx, `ANALYZE events, deliveries, attempts`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
