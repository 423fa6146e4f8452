package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// replayCols and replayScan read a replays row.
const replayCols = `id, state, f_delivery_from, f_delivery_to, f_hook_uri, f_webhook_id, f_delivery_id,
	f_group_status, f_created_by, f_trigger, max_id, exclude_retried, rate, window_size,
	idempotency_key, created_by, created_on, started_on, finished_on, next_step_at,
	total, retried, skipped, failed, cancelled`

type replayScan struct {
	r                        hookd.Replay
	maxID                    int64
	groupStatus, triggerMask int64
}

func (s *replayScan) dest() []any {
	r := &s.r
	f := &r.Filter
	return []any{&r.ID, &r.State, &f.DeliveryFrom, &f.DeliveryTo, &f.HookURI, &f.WebhookID, &f.DeliveryID,
		&s.groupStatus, &f.CreatedBy, &s.triggerMask, &s.maxID, &r.ExcludeRetried, &r.Rate, &r.Window,
		&r.IdempotencyKey, &r.CreatedBy, &r.CreatedOn, &r.StartedOn, &r.FinishedOn, &r.NextStepAt,
		&r.Total, &r.Retried, &r.Skipped, &r.Failed, &r.Cancelled}
}

func (s *replayScan) replay() *hookd.Replay {
	r := s.r
	r.Filter.GroupStatus = hookd.GroupStatus(s.groupStatus)
	r.Filter.Trigger = hookd.Trigger(s.triggerMask)
	r.Filter.MaxID = &s.maxID
	r.Filter.DeliveryFrom, r.Filter.DeliveryTo = utcPtr(r.Filter.DeliveryFrom), utcPtr(r.Filter.DeliveryTo)
	r.CreatedOn, r.NextStepAt = utc(r.CreatedOn), utc(r.NextStepAt)
	r.StartedOn, r.FinishedOn = utcPtr(r.StartedOn), utcPtr(r.FinishedOn)
	return &r
}

// querier is what both the pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// replayGet reads one job; suffix follows the WHERE condition (ORDER BY, FOR UPDATE).
func replayGet(ctx context.Context, q querier, where string, args ...any) (*hookd.Replay, error) {
	var sc replayScan
	if err := q.QueryRow(ctx, `SELECT `+replayCols+` FROM replays WHERE `+where, args...).Scan(sc.dest()...); err != nil {
		return nil, err
	}
	return sc.replay(), nil
}

// ReplayGet returns one job.
func (s *Store) ReplayGet(ctx context.Context, id int64) (*hookd.Replay, error) {
	r, err := replayGet(ctx, s.pool, `id = $1`, id)
	if err != nil {
		return nil, formatError(fmt.Sprintf("get replay %d", id), err)
	}
	return r, nil
}

// retriedSQL is true for a delivery d that another delivery retries; the repeated
// retry_of <> 0 matches the partial index deliveries_retry_of.
const retriedSQL = `EXISTS (SELECT 1 FROM deliveries r WHERE r.retry_of = d.id AND r.retry_of <> 0)`

// replayMatch returns p.Filter pinned (MaxID: the caller's, or the largest delivery id now)
// and the FROM and WHERE of the deliveries it selects (aliases d and w) with their arguments.
func replayMatch(ctx context.Context, q querier, p *hookd.ReplayParams) (hookd.DeliveryFilter, string, []any, error) {
	f := p.Filter
	f.Offset, f.Limit = 0, 0
	if f.MaxID == nil {
		var maxID int64
		if err := q.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM deliveries`).Scan(&maxID); err != nil {
			return f, "", nil, err
		}
		f.MaxID = &maxID
	}
	where, args := deliveryWhere(f)
	return f, ` FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE ` + where, args, nil
}

// ReplayPreview counts what ReplayCreate would pin, in one repeatable-read snapshot.
func (s *Store) ReplayPreview(ctx context.Context, p *hookd.ReplayParams) (*hookd.ReplayPreview, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := &hookd.ReplayPreview{SampleIDs: []int64{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := customPlans(ctx, tx); err != nil {
				return err
			}
			f, from, args, err := replayMatch(ctx, tx, p)
			if err != nil {
				return err
			}
			out.MaxID = *f.MaxID
			skipped, notSkipped := `0::bigint`, ``
			if p.ExcludeRetried {
				skipped, notSkipped = `count(*) FILTER (WHERE `+retriedSQL+`)`, ` AND NOT `+retriedSQL
			}
			if err := tx.QueryRow(ctx, `SELECT count(*), `+skipped+from, args...).Scan(&out.Total, &out.Skipped); err != nil {
				return err
			}
			if p.Sample == 0 {
				return nil
			}
			rows, err := tx.Query(ctx, `SELECT d.id`+from+notSkipped+` ORDER BY d.id LIMIT `+strconv.Itoa(p.Sample), args...)
			if err != nil {
				return err
			}
			out.SampleIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
	if err != nil {
		return nil, formatError("preview replay", err)
	}
	if out.SampleIDs == nil {
		out.SampleIDs = []int64{}
	}
	return out, nil
}

// ReplayCreate pins the matching deliveries as the items of a new job, in one transaction, or
// returns the job the same user created with the same idempotency key. Two requests racing
// with one key meet on the unique index: the second waits for the first and returns its job.
func (s *Store) ReplayCreate(ctx context.Context, p *hookd.ReplayParams) (*hookd.Replay, bool, error) {
	if err := p.Validate(); err != nil {
		return nil, false, err
	}
	var (
		r       *hookd.Replay
		created bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		created = false
		if p.IdempotencyKey != "" {
			var err error
			r, err = replayGet(ctx, tx, `created_by = $1 AND idempotency_key = $2`, p.CreatedBy, p.IdempotencyKey)
			if err == nil || !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		var err error
		r, created, err = s.replayInsert(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, false, formatError("create replay", err)
	}
	return r, created, nil
}

// replayInsert stores the job and its items in tx; when another transaction created a job
// with the same key meanwhile, it returns that one and false.
func (s *Store) replayInsert(ctx context.Context, tx pgx.Tx, p *hookd.ReplayParams) (*hookd.Replay, bool, error) {
	if err := customPlans(ctx, tx); err != nil {
		return nil, false, err
	}
	f, from, args, err := replayMatch(ctx, tx, p)
	if err != nil {
		return nil, false, err
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*)`+from, args...).Scan(&n); err != nil {
		return nil, false, err
	}
	if n > hookd.MaxReplayItems {
		return nil, false, hookd.Errorf(hookd.EINVALID, "The filter matches %d deliveries; one replay takes at most %d: narrow the filter (a date range, a webhook).", n, hookd.MaxReplayItems)
	}
	now := s.now()
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO replays (state, f_delivery_from, f_delivery_to, f_hook_uri,
		f_webhook_id, f_delivery_id, f_group_status, f_created_by, f_trigger, max_id, exclude_retried, rate,
		window_size, idempotency_key, created_by, created_on, next_step_at)
		VALUES ('queued', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
		ON CONFLICT (created_by, idempotency_key) WHERE idempotency_key <> '' DO NOTHING
		RETURNING id`,
		microPtr(f.DeliveryFrom), microPtr(f.DeliveryTo), f.HookURI, f.WebhookID, f.DeliveryID,
		int64(f.GroupStatus), f.CreatedBy, int64(f.Trigger), *f.MaxID, p.ExcludeRetried, p.Rate, p.Window,
		p.IdempotencyKey, p.CreatedBy, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// The key was taken by a transaction that committed after our look: its job.
		r, err := replayGet(ctx, tx, `created_by = $1 AND idempotency_key = $2`, p.CreatedBy, p.IdempotencyKey)
		return r, false, err
	} else if err != nil {
		return nil, false, err
	}
	// Deliveries already retried are pinned as skipped, so that the listing says why.
	k := len(args)
	state, processed := `'pending'`, `NULL::timestamptz`
	if p.ExcludeRetried {
		state = `CASE WHEN ` + retriedSQL + ` THEN 'skipped' ELSE 'pending' END`
		processed = `CASE WHEN ` + retriedSQL + fmt.Sprintf(` THEN $%d::timestamptz END`, k+2)
	}
	args = append(args, id)
	if p.ExcludeRetried {
		args = append(args, now)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO replay_items (replay_id, delivery_id, state, processed_on)
		SELECT $%d::bigint, d.id, `, k+1)+state+`, `+processed+from+` ORDER BY d.id`, args...); err != nil {
		return nil, false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE replays SET
			total = (SELECT count(*) FROM replay_items WHERE replay_id = $1),
			skipped = (SELECT count(*) FROM replay_items WHERE replay_id = $1 AND state = 'skipped')
		WHERE id = $1`, id); err != nil {
		return nil, false, err
	}
	// A job with nothing to do is done at once.
	if _, err := tx.Exec(ctx, `UPDATE replays SET state = 'done', started_on = $2, finished_on = $2
		WHERE id = $1 AND total = skipped`, id, now); err != nil {
		return nil, false, err
	}
	r, err := replayGet(ctx, tx, `id = $1`, id)
	return r, true, err
}

// ReplayList returns the jobs matching f, newest first, and their number before paging.
func (s *Store) ReplayList(ctx context.Context, f hookd.ReplayFilter) ([]*hookd.Replay, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	var (
		out   []*hookd.Replay
		total int64
	)
	var limit any // NULL: no limit
	if f.Limit > 0 {
		limit = f.Limit
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			const where = ` WHERE $1::text IS NULL OR created_by = $1`
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM replays`+where, f.CreatedBy).Scan(&total); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT `+replayCols+` FROM replays`+where+` ORDER BY id DESC OFFSET $2 LIMIT $3::bigint`,
				f.CreatedBy, f.Offset, limit)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookd.Replay, error) {
				var sc replayScan
				if err := row.Scan(sc.dest()...); err != nil {
					return nil, err
				}
				return sc.replay(), nil
			})
			return err
		})
	if err != nil {
		return nil, 0, formatError("list replays", err)
	}
	if out == nil {
		out = []*hookd.Replay{}
	}
	return out, total, nil
}

// ReplayItemList returns items of one job in delivery id order, and their number before
// paging; ErrNotFound when the job does not exist.
func (s *Store) ReplayItemList(ctx context.Context, f hookd.ReplayItemFilter) ([]*hookd.ReplayItem, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	var (
		out   []*hookd.ReplayItem
		total int64
	)
	var limit any
	if f.Limit > 0 {
		limit = f.Limit
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM replay_items WHERE replay_id = $1 AND ($2 = '' OR state = $2))
				FROM replays WHERE id = $1`, f.ReplayID, string(f.State)).Scan(&total); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT i.replay_id, i.delivery_id, i.state, i.new_delivery_id, i.processed_on,
					coalesce(d.webhook_id, 0), coalesce(w.name, ''), coalesce(d.trigger, 0)
				FROM replay_items i
				LEFT JOIN deliveries d ON d.id = i.delivery_id
				LEFT JOIN webhooks w ON w.id = d.webhook_id
				WHERE i.replay_id = $1 AND ($2 = '' OR i.state = $2)
				ORDER BY i.delivery_id OFFSET $3 LIMIT $4::bigint`, f.ReplayID, string(f.State), f.Offset, limit)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookd.ReplayItem, error) {
				var it hookd.ReplayItem
				if err := row.Scan(&it.ReplayID, &it.DeliveryID, &it.State, &it.NewDeliveryID, &it.ProcessedOn,
					&it.WebhookID, &it.WebhookName, &it.Trigger); err != nil {
					return nil, err
				}
				it.ProcessedOn = utcPtr(it.ProcessedOn)
				return &it, nil
			})
			return err
		})
	if err != nil {
		return nil, 0, formatError("list replay items", err)
	}
	if out == nil {
		out = []*hookd.ReplayItem{}
	}
	return out, total, nil
}

// ReplayCancel stops a queued or running job; its pending items become cancelled. A job
// already done or cancelled is returned as it is. The row lock waits for a step in progress.
func (s *Store) ReplayCancel(ctx context.Context, id int64) (*hookd.Replay, error) {
	var r *hookd.Replay
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if r, err = replayGet(ctx, tx, `id = $1 FOR UPDATE`, id); err != nil || r.State.Final() {
			return err
		}
		now := s.now()
		tag, err := tx.Exec(ctx, `UPDATE replay_items SET state = 'cancelled', processed_on = $2
			WHERE replay_id = $1 AND state = 'pending'`, id, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE replays SET state = 'cancelled', finished_on = $2, cancelled = cancelled + $3
			WHERE id = $1`, id, now, tag.RowsAffected()); err != nil {
			return err
		}
		r, err = replayGet(ctx, tx, `id = $1`, id)
		return err
	})
	if err != nil {
		return nil, formatError(fmt.Sprintf("cancel replay %d", id), err)
	}
	return r, nil
}

// ReplayNextDue returns when the earliest step of a queued or running job is due, the zero
// time when there is none.
func (s *Store) ReplayNextDue(ctx context.Context) (time.Time, error) {
	t, err := replayNextDue(ctx, s.pool)
	if err != nil {
		return time.Time{}, formatError("next replay step", err)
	}
	return t, nil
}

func replayNextDue(ctx context.Context, q querier) (time.Time, error) {
	var next *time.Time
	if err := q.QueryRow(ctx, `SELECT min(next_step_at) FROM replays WHERE state IN ('queued', 'running')`).
		Scan(&next); err != nil || next == nil {
		return time.Time{}, err
	}
	return utc(*next), nil
}

// defaultReplayStepLimit caps a step when ReplayStepParams.Limit is 0.
const defaultReplayStepLimit = 500

// ReplayStep processes the next items of the due job whose step is due soonest, in one
// transaction, at the job's pace and within its window. The job row is taken FOR UPDATE SKIP
// LOCKED, so that the runners of several nodes never step one job at once (they pick another
// job, or none), and its pace holds across nodes because next_step_at lives in the row.
func (s *Store) ReplayStep(ctx context.Context, p *hookd.ReplayStepParams) (*hookd.ReplayStepResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = defaultReplayStepLimit
	}
	var out *hookd.ReplayStepResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = &hookd.ReplayStepResult{Items: []*hookd.ReplayItem{}}
		now := s.now()
		r, err := replayGet(ctx, tx, `state IN ('queued', 'running') AND next_step_at <= $1
			ORDER BY next_step_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now)
		if errors.Is(err, pgx.ErrNoRows) {
			out.NextStepAt, err = replayNextDue(ctx, tx)
			return err
		} else if err != nil {
			return err
		}
		if out.Items, err = s.replayProcess(ctx, tx, r, limit, now); err != nil {
			return err
		}
		if out.Replay, err = replayGet(ctx, tx, `id = $1`, r.ID); err != nil {
			return err
		}
		out.NextStepAt, err = replayNextDue(ctx, tx)
		return err
	})
	if err != nil {
		return nil, formatError("replay step", err)
	}
	return out, nil
}

// replayOutstanding counts the new deliveries of job $1 still waiting for an answer, among
// its newest $2 retried items: pending, in flight, or due again after a 429.
const replayOutstanding = `SELECT count(*) FROM (
		SELECT new_delivery_id FROM replay_items WHERE replay_id = $1 AND state = 'retried'
		ORDER BY delivery_id DESC LIMIT $2) i
	JOIN deliveries d ON d.id = i.new_delivery_id
	WHERE d.state IN ('pending', 'inflight') OR (d.state = 'retrying' AND d.status = 429)`

// replayProcess does one step of job r in tx and returns the items it processed.
func (s *Store) replayProcess(ctx context.Context, tx pgx.Tx, r *hookd.Replay, limit int, now time.Time) ([]*hookd.ReplayItem, error) {
	n, wait := hookd.ReplayChunk(r.Rate, limit)
	var outstanding int
	if err := tx.QueryRow(ctx, replayOutstanding, r.ID, 2*r.Window).Scan(&outstanding); err != nil {
		return nil, err
	}
	if n = min(n, r.Window-outstanding); n <= 0 {
		// The window is full: look again later, the job's state unchanged.
		_, err := tx.Exec(ctx, `UPDATE replays SET next_step_at = $2 WHERE id = $1`, r.ID, now.Add(hookd.ReplayBackoff(r.Rate)))
		return []*hookd.ReplayItem{}, err
	}
	rows, err := tx.Query(ctx, `SELECT delivery_id FROM replay_items WHERE replay_id = $1 AND state = 'pending'
		ORDER BY delivery_id LIMIT $2 FOR UPDATE SKIP LOCKED`, r.ID, n)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var retried []int64
	if r.ExcludeRetried && len(ids) > 0 {
		rows, err := tx.Query(ctx, `SELECT DISTINCT retry_of FROM deliveries WHERE retry_of = ANY($1) AND retry_of <> 0`, ids)
		if err != nil {
			return nil, err
		}
		if retried, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return nil, err
		}
	}
	toSend := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return slices.Contains(retried, id) })
	created := map[int64]int64{} // original id → new delivery id
	if len(toSend) > 0 {
		rows, err := tx.Query(ctx, `INSERT INTO deliveries
				(webhook_id, event_id, trigger, state, created_by, created_on, next_attempt_at, retry_of, ordering_key)
			SELECT d.webhook_id, d.event_id, d.trigger, `+newState+`, $2, $3, $3, d.id, `+newKey+`
			FROM unnest($1::bigint[]) WITH ORDINALITY AS j(id, ord)
			JOIN deliveries d ON d.id = j.id
			JOIN webhooks w ON w.id = d.webhook_id
			JOIN events oe ON oe.id = d.event_id
			WHERE $4::text IS NULL OR w.created_by = $4
			ORDER BY j.ord
			FOR KEY SHARE OF w
			RETURNING id, retry_of`, toSend, r.CreatedBy, now, r.Filter.CreatedBy)
		if err != nil {
			return nil, err
		}
		var id, of int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &of}, func() error {
			created[of] = id
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return replayRecord(ctx, tx, r, ids, retried, created, now, wait)
}

// replayRecord stores the outcome of the items ids, moves the job on, and wakes the
// dispatchers of every node when it created deliveries.
func replayRecord(ctx context.Context, tx pgx.Tx, r *hookd.Replay, ids, retried []int64, created map[int64]int64, now time.Time, wait time.Duration) ([]*hookd.ReplayItem, error) {
	o := hookd.ReplayOutcomes(r.ID, ids, retried, created, now)
	states := make([]string, len(o.Items))
	newIDs := make([]int64, len(o.Items))
	for i, it := range o.Items {
		states[i], newIDs[i] = string(it.State), it.NewDeliveryID
	}
	if _, err := tx.Exec(ctx, `UPDATE replay_items i SET state = u.state, new_delivery_id = u.new_id, processed_on = $2
		FROM unnest($3::bigint[], $4::text[], $5::bigint[]) AS u(delivery_id, state, new_id)
		WHERE i.replay_id = $1 AND i.delivery_id = u.delivery_id`, r.ID, now, ids, states, newIDs); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE replays SET
			retried = retried + $2, skipped = skipped + $3, failed = failed + $4,
			started_on = coalesce(started_on, $5), next_step_at = $6,
			state = CASE WHEN EXISTS (SELECT 1 FROM replay_items WHERE replay_id = $1 AND state = 'pending')
				THEN 'running' ELSE 'done' END,
			finished_on = CASE WHEN EXISTS (SELECT 1 FROM replay_items WHERE replay_id = $1 AND state = 'pending')
				THEN NULL ELSE $5::timestamptz END
		WHERE id = $1`, r.ID, o.Retried, o.Skipped, o.Failed, now, now.Add(wait)); err != nil {
		return nil, err
	}
	if o.Retried > 0 {
		if err := notify(ctx, tx); err != nil {
			return nil, err
		}
	}
	return o.Items, nil
}
