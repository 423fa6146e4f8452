package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// replayCols and replayDest read a replays row.
const replayCols = `id, state, f_delivery_from, f_delivery_to, f_hook_uri, f_webhook_id, f_delivery_id,
	f_group_status, f_created_by, f_trigger, max_id, exclude_retried, rate, window_size,
	idempotency_key, created_by, created_on, started_on, finished_on, next_step_at,
	total, retried, skipped, failed, cancelled`

// replayScan receives replayCols.
type replayScan struct {
	r                        hookd.Replay
	hookURI, fCreatedBy      sql.NullString
	webhookID, deliveryID    sql.NullInt64
	maxID                    int64
	groupStatus, triggerMask int64
}

func (s *replayScan) dest() []any {
	r := &s.r
	return []any{&r.ID, &r.State, nullTimeCol{&r.Filter.DeliveryFrom}, nullTimeCol{&r.Filter.DeliveryTo},
		&s.hookURI, &s.webhookID, &s.deliveryID, &s.groupStatus, &s.fCreatedBy, &s.triggerMask, &s.maxID,
		&r.ExcludeRetried, &r.Rate, &r.Window, &r.IdempotencyKey, &r.CreatedBy, timeCol{&r.CreatedOn},
		nullTimeCol{&r.StartedOn}, nullTimeCol{&r.FinishedOn}, timeCol{&r.NextStepAt},
		&r.Total, &r.Retried, &r.Skipped, &r.Failed, &r.Cancelled}
}

func (s *replayScan) replay() *hookd.Replay {
	r := s.r
	f := &r.Filter
	if s.hookURI.Valid {
		f.HookURI = &s.hookURI.String
	}
	if s.webhookID.Valid {
		f.WebhookID = &s.webhookID.Int64
	}
	if s.deliveryID.Valid {
		f.DeliveryID = &s.deliveryID.Int64
	}
	if s.fCreatedBy.Valid {
		f.CreatedBy = &s.fCreatedBy.String
	}
	f.GroupStatus = hookd.GroupStatus(s.groupStatus)
	f.Trigger = hookd.Trigger(s.triggerMask)
	f.MaxID = &s.maxID
	return &r
}

// querier is what both a pool and a transaction offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// replayGet reads one job.
func replayGet(ctx context.Context, q querier, where string, args ...any) (*hookd.Replay, error) {
	return scanReplay(q.QueryRowContext(ctx, `SELECT `+replayCols+` FROM replays WHERE `+where, args...))
}

// ReplayGet returns one job.
func (s *Store) ReplayGet(ctx context.Context, id int64) (*hookd.Replay, error) {
	r, err := replayGet(ctx, s.read, `id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get replay %d: %w", id, formatError(err))
	}
	return r, nil
}

// replayMatch returns the FROM and WHERE of the deliveries f selects (aliases d and w), and
// their arguments.
func replayMatch(f hookd.DeliveryFilter) (string, []any) {
	f.Offset, f.Limit = 0, 0
	where, args := deliveryWhere(f)
	return ` FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id` + where, args
}

// retriedSQL is true for a delivery d that another delivery retries. The repeated
// retry_of <> 0 lets SQLite use the partial index deliveries_retry_of.
const retriedSQL = `EXISTS (SELECT 1 FROM deliveries r WHERE r.retry_of = d.id AND r.retry_of <> 0)`

// pinned returns p.Filter with MaxID set: the caller's, or the largest delivery id now.
func pinned(ctx context.Context, q querier, p *hookd.ReplayParams) (hookd.DeliveryFilter, error) {
	f := p.Filter
	if f.MaxID == nil {
		var maxID int64
		if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM deliveries`).Scan(&maxID); err != nil {
			return f, err
		}
		f.MaxID = &maxID
	}
	return f, nil
}

// ReplayPreview counts what ReplayCreate would pin, in one read snapshot.
func (s *Store) ReplayPreview(ctx context.Context, p *hookd.ReplayParams) (*hookd.ReplayPreview, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("preview replay: %w", err)
	}
	defer tx.Rollback()
	f, err := pinned(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("preview replay: %w", err)
	}
	from, args := replayMatch(f)
	out := &hookd.ReplayPreview{MaxID: *f.MaxID, SampleIDs: []int64{}}
	// The filter's arguments are plain ? parameters, numbered by position: the query adds no
	// parameter of its own, only integers it formats itself.
	skipped, notSkipped := `0`, ``
	if p.ExcludeRetried {
		skipped, notSkipped = `COALESCE(SUM(`+retriedSQL+`), 0)`, ` AND NOT `+retriedSQL
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), `+skipped+from, args...).Scan(&out.Total, &out.Skipped); err != nil {
		return nil, fmt.Errorf("preview replay: %w", err)
	}
	if p.Sample > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT d.id`+from+notSkipped+` ORDER BY d.id LIMIT `+strconv.Itoa(p.Sample), args...)
		if err != nil {
			return nil, fmt.Errorf("preview replay: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, fmt.Errorf("preview replay: %w", err)
			}
			out.SampleIDs = append(out.SampleIDs, id)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("preview replay: %w", err)
		}
	}
	return out, nil
}

// ReplayCreate pins the matching deliveries as the items of a new job, in one write
// transaction, or returns the job the same user created with the same idempotency key.
func (s *Store) ReplayCreate(ctx context.Context, p *hookd.ReplayParams) (*hookd.Replay, bool, error) {
	if err := p.Validate(); err != nil {
		return nil, false, err
	}
	tx, _, err := s.begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("create replay: %w", err)
	}
	defer tx.Rollback()
	if p.IdempotencyKey != "" {
		r, err := replayGet(ctx, tx, `created_by = ? AND idempotency_key = ?`, p.CreatedBy, p.IdempotencyKey)
		if err == nil {
			return r, false, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("create replay: %w", err)
		}
	}
	r, err := s.replayInsert(ctx, tx, p)
	if err != nil {
		return nil, false, fmt.Errorf("create replay: %w", formatError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("create replay: %w", err)
	}
	return r, true, nil
}

// replayInsert stores the job and its items in tx and returns the job.
func (s *Store) replayInsert(ctx context.Context, tx *sql.Tx, p *hookd.ReplayParams) (*hookd.Replay, error) {
	f, err := pinned(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	from, args := replayMatch(f)
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+from, args...).Scan(&n); err != nil {
		return nil, err
	}
	if n > hookd.MaxReplayItems {
		return nil, hookd.Errorf(hookd.EINVALID, "The filter matches %d deliveries; one replay takes at most %d: narrow the filter (a date range, a webhook).", n, hookd.MaxReplayItems)
	}
	now := micros(s.now())
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO replays (state, f_delivery_from, f_delivery_to, f_hook_uri,
		f_webhook_id, f_delivery_id, f_group_status, f_created_by, f_trigger, max_id, exclude_retried, rate,
		window_size, idempotency_key, created_by, created_on, next_step_at)
		VALUES ('queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		nullMicros(f.DeliveryFrom), nullMicros(f.DeliveryTo), f.HookURI, f.WebhookID, f.DeliveryID,
		int64(f.GroupStatus), f.CreatedBy, int64(f.Trigger), *f.MaxID, p.ExcludeRetried, p.Rate, p.Window,
		p.IdempotencyKey, p.CreatedBy, now, now).Scan(&id)
	if err != nil {
		return nil, err
	}
	// Deliveries already retried are pinned as skipped, so that the listing says why. The
	// filter's plain ? parameters come first: the rest is formatted integers.
	state, processed := `'pending'`, `NULL`
	if p.ExcludeRetried {
		state = `CASE WHEN ` + retriedSQL + ` THEN 'skipped' ELSE 'pending' END`
		processed = `CASE WHEN ` + retriedSQL + ` THEN ` + strconv.FormatInt(now, 10) + ` END`
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO replay_items (replay_id, delivery_id, state, processed_on)
		SELECT `+strconv.FormatInt(id, 10)+`, d.id, `+state+`, `+processed+from+` ORDER BY d.id`, args...); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE replays SET
			total = (SELECT COUNT(*) FROM replay_items WHERE replay_id = ?1),
			skipped = (SELECT COUNT(*) FROM replay_items WHERE replay_id = ?1 AND state = 'skipped')
		WHERE id = ?1`, id); err != nil {
		return nil, err
	}
	// A job with nothing to do is done at once.
	if _, err := tx.ExecContext(ctx, `UPDATE replays SET state = 'done', started_on = ?2, finished_on = ?2
		WHERE id = ?1 AND total = skipped`, id, now); err != nil {
		return nil, err
	}
	return replayGet(ctx, tx, `id = ?`, id)
}

// ReplayList returns the jobs matching f, newest first, and their number before paging.
func (s *Store) ReplayList(ctx context.Context, f hookd.ReplayFilter) ([]*hookd.Replay, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list replays: %w", err)
	}
	defer tx.Rollback()
	const where = ` WHERE ?1 IS NULL OR created_by = ?1`
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM replays`+where, f.CreatedBy).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list replays: %w", err)
	}
	limit := int64(f.Limit)
	if limit == 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+replayCols+` FROM replays`+where+` ORDER BY id DESC LIMIT ?2 OFFSET ?3`,
		f.CreatedBy, limit, f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list replays: %w", err)
	}
	defer rows.Close()
	out := []*hookd.Replay{}
	for rows.Next() {
		var sc replayScan
		if err := rows.Scan(sc.dest()...); err != nil {
			return nil, 0, fmt.Errorf("list replays: %w", err)
		}
		out = append(out, sc.replay())
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list replays: %w", err)
	}
	return out, total, nil
}

// ReplayItemList returns items of one job in delivery id order, and their number before
// paging; ErrNotFound when the job does not exist.
func (s *Store) ReplayItemList(ctx context.Context, f hookd.ReplayItemFilter) ([]*hookd.ReplayItem, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list replay items: %w", err)
	}
	defer tx.Rollback()
	var total int64
	err = tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM replay_items WHERE replay_id = ?1 AND (?2 = '' OR state = ?2))
		FROM replays WHERE id = ?1`, f.ReplayID, string(f.State)).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("list replay items: %w", formatError(err))
	}
	limit := int64(f.Limit)
	if limit == 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT i.replay_id, i.delivery_id, i.state, i.new_delivery_id, i.processed_on,
			COALESCE(d.webhook_id, 0), COALESCE(w.name, ''), COALESCE(d.trigger_id, 0)
		FROM replay_items i
		LEFT JOIN deliveries d ON d.id = i.delivery_id
		LEFT JOIN webhooks w ON w.id = d.webhook_id
		WHERE i.replay_id = ?1 AND (?2 = '' OR i.state = ?2)
		ORDER BY i.delivery_id LIMIT ?3 OFFSET ?4`, f.ReplayID, string(f.State), limit, f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list replay items: %w", err)
	}
	defer rows.Close()
	out := []*hookd.ReplayItem{}
	for rows.Next() {
		var it hookd.ReplayItem
		if err := rows.Scan(&it.ReplayID, &it.DeliveryID, &it.State, &it.NewDeliveryID, nullTimeCol{&it.ProcessedOn},
			&it.WebhookID, &it.WebhookName, &it.Trigger); err != nil {
			return nil, 0, fmt.Errorf("list replay items: %w", err)
		}
		out = append(out, &it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list replay items: %w", err)
	}
	return out, total, nil
}

// ReplayCancel stops a queued or running job; its pending items become cancelled. A job
// already done or cancelled is returned as it is.
func (s *Store) ReplayCancel(ctx context.Context, id int64) (*hookd.Replay, error) {
	tx, _, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	defer tx.Rollback()
	r, err := replayGet(ctx, tx, `id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, formatError(err))
	}
	if r.State.Final() {
		return r, nil
	}
	now := micros(s.now())
	res, err := tx.ExecContext(ctx, `UPDATE replay_items SET state = 'cancelled', processed_on = ?
		WHERE replay_id = ? AND state = 'pending'`, now, id)
	if err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE replays SET state = 'cancelled', finished_on = ?, cancelled = cancelled + ?
		WHERE id = ?`, now, n, id); err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	if r, err = replayGet(ctx, tx, `id = ?`, id); err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cancel replay %d: %w", id, err)
	}
	return r, nil
}

// ReplayNextDue returns when the earliest step of a queued or running job is due, the zero
// time when there is none. It only reads.
func (s *Store) ReplayNextDue(ctx context.Context) (time.Time, error) {
	t, err := replayNextDue(ctx, s.read)
	if err != nil {
		return time.Time{}, fmt.Errorf("next replay step: %w", err)
	}
	return t, nil
}

func replayNextDue(ctx context.Context, q querier) (time.Time, error) {
	var next sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MIN(next_step_at) FROM replays WHERE state IN ('queued', 'running')`).
		Scan(&next); err != nil || !next.Valid {
		return time.Time{}, err
	}
	return fromMicros(next.Int64), nil
}

// scanInt64s reads rows of one integer column.
func scanInt64s(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
