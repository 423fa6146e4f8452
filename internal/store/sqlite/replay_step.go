package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

// A replay step holds the single writer, and live publishes and claims wait for it. So the
// step's one slow read, counting the job's new deliveries still waiting for an answer, runs
// first on the read pool (replayPeek), and the write transaction runs prepared statements
// only: at 1 M deliveries a step took about 10 ms of the writer, 4 of them counting and 2
// parsing its twenty item updates (docs/perf.md).

// defaultReplayStepLimit caps a step when ReplayStepParams.Limit is 0.
const defaultReplayStepLimit = 500

// The statements of a step, in replayStepQueries order.
const (
	stepDue = iota
	stepByID
	stepOutstanding
	stepPending
	stepRetried
	stepInsert
	stepItems
	stepAdvance
	stepBackoff
	stepNextDue
)

// replayDueQuery reads the job whose step is due soonest (?1 now).
const replayDueQuery = `SELECT ` + replayCols + ` FROM replays
	WHERE state IN ('queued', 'running') AND next_step_at <= ?1 ORDER BY next_step_at, id LIMIT 1`

// replayOutstanding counts the new deliveries of job ?1 still waiting for an answer, among its
// newest ?2 retried items: pending, in flight, or due again after a 429. Without the
// INDEXED BY, SQLite walks the primary key backwards through every pending item first.
const replayOutstanding = `SELECT COUNT(*) FROM (
		SELECT new_delivery_id FROM replay_items INDEXED BY replay_items_state
		WHERE replay_id = ?1 AND state = 'retried'
		ORDER BY delivery_id DESC LIMIT ?2) i
	JOIN deliveries d ON d.id = i.new_delivery_id
	WHERE d.state IN ('pending', 'inflight') OR (d.state = 'retrying' AND d.status = 429)`

var replayStepQueries = []string{
	stepDue:         replayDueQuery,
	stepByID:        `SELECT ` + replayCols + ` FROM replays WHERE id = ?`,
	stepOutstanding: replayOutstanding,
	stepPending: `SELECT delivery_id FROM replay_items WHERE replay_id = ? AND state = 'pending'
		ORDER BY delivery_id LIMIT ?`,
	stepRetried: `SELECT DISTINCT retry_of FROM deliveries
		WHERE retry_of IN (SELECT value FROM json_each(?)) AND retry_of <> 0`,
	stepInsert: retryInsertSQL + ` RETURNING retry_of, id`, // original id → new delivery id
	// ?3 is a JSON array of [delivery id, state, new delivery id] per item. Written with IN
	// rather than UPDATE … FROM json_each, for which SQLite walks every item of the job.
	stepItems: `UPDATE replay_items SET (state, new_delivery_id) = (SELECT j.value ->> 1, j.value ->> 2
			FROM json_each(?3) j WHERE j.value ->> 0 = replay_items.delivery_id), processed_on = ?2
		WHERE replay_id = ?1 AND delivery_id IN (SELECT j.value ->> 0 FROM json_each(?3) j)`,
	stepAdvance: `UPDATE replays SET
			retried = retried + ?2, skipped = skipped + ?3, failed = failed + ?4,
			started_on = COALESCE(started_on, ?5), next_step_at = ?6,
			state = CASE WHEN EXISTS (SELECT 1 FROM replay_items WHERE replay_id = ?1 AND state = 'pending')
				THEN 'running' ELSE 'done' END,
			finished_on = CASE WHEN EXISTS (SELECT 1 FROM replay_items WHERE replay_id = ?1 AND state = 'pending')
				THEN NULL ELSE ?5 END
		WHERE id = ?1`,
	stepBackoff: `UPDATE replays SET next_step_at = ? WHERE id = ?`,
	stepNextDue: `SELECT MIN(next_step_at) FROM replays WHERE state IN ('queued', 'running')`,
}

// replayPeekResult is what replayPeek saw of the due job: its id, its progress (items
// processed) and its outstanding new deliveries.
type replayPeekResult struct {
	id, progress, outstanding int64
}

// replayProgress is the number of a job's items processed so far; every step that creates
// deliveries moves it.
func replayProgress(r *hookd.Replay) int64 { return r.Retried + r.Skipped + r.Failed }

// replayPeek counts, on one snapshot of the read pool, the outstanding new deliveries of the
// job due at now; nil when none is due. The count is only used by a step of the same job at
// the same progress: then no delivery of the job was created since, and deliveries that
// finished since only make the count high, so the window is never overrun.
func (s *Store) replayPeek(ctx context.Context, now time.Time) (*replayPeekResult, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := scanReplay(tx.QueryRowContext(ctx, replayDueQuery, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	out := &replayPeekResult{id: r.ID, progress: replayProgress(r)}
	if err := tx.QueryRowContext(ctx, replayOutstanding, r.ID, 2*r.Window).Scan(&out.outstanding); err != nil {
		return nil, err
	}
	return out, nil
}

// scanReplay reads one replayCols row.
func scanReplay(row *sql.Row) (*hookd.Replay, error) {
	var sc replayScan
	if err := row.Scan(sc.dest()...); err != nil {
		return nil, err
	}
	return sc.replay(), nil
}

// ReplayStep processes the next items of the due job whose step is due soonest, in one write
// transaction, at the job's pace and within its window.
func (s *Store) ReplayStep(ctx context.Context, p *hookd.ReplayStepParams) (*hookd.ReplayStepResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = defaultReplayStepLimit
	}
	now := s.now()
	peek, err := s.replayPeek(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("replay step: %w", err)
	}
	return s.replayStep(ctx, limit, now, peek)
}

// replayStep is ReplayStep after the peek.
func (s *Store) replayStep(ctx context.Context, limit int, now time.Time, peek *replayPeekResult) (*hookd.ReplayStepResult, error) {
	tx, sts, err := s.begin(ctx, replayStepQueries...)
	if err != nil {
		return nil, fmt.Errorf("replay step: %w", err)
	}
	defer tx.Rollback()
	st := &replayStepTx{sts: sts}
	out := &hookd.ReplayStepResult{Items: []*hookd.ReplayItem{}}
	r, err := scanReplay(sts[stepDue].QueryRowContext(ctx, micros(now)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if out.NextStepAt, err = st.nextDue(ctx); err != nil {
			return nil, fmt.Errorf("replay step: %w", err)
		}
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("replay step: %w", err)
	}
	outstanding := int64(-1)
	if peek != nil && peek.id == r.ID && peek.progress == replayProgress(r) {
		outstanding = peek.outstanding
	}
	if out.Items, err = st.process(ctx, r, limit, now, outstanding); err != nil {
		return nil, fmt.Errorf("replay step %d: %w", r.ID, err)
	}
	if out.Replay, err = scanReplay(sts[stepByID].QueryRowContext(ctx, r.ID)); err != nil {
		return nil, fmt.Errorf("replay step %d: %w", r.ID, err)
	}
	if out.NextStepAt, err = st.nextDue(ctx); err != nil {
		return nil, fmt.Errorf("replay step: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("replay step %d: %w", r.ID, err)
	}
	return out, nil
}

// replayStepTx is one step's write transaction: replayStepQueries bound to it.
type replayStepTx struct {
	sts []*sql.Stmt
}

// nextDue returns when the next step of any active job is due, zero when none is.
func (st *replayStepTx) nextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := st.sts[stepNextDue].QueryRowContext(ctx).Scan(&next); err != nil || !next.Valid {
		return time.Time{}, err
	}
	return fromMicros(next.Int64), nil
}

// process does one step of job r and returns the items it processed. outstanding is the
// job's count of new deliveries waiting for an answer, -1 when it must be counted here.
func (st *replayStepTx) process(ctx context.Context, r *hookd.Replay, limit int, now time.Time, outstanding int64) ([]*hookd.ReplayItem, error) {
	n, wait := hookd.ReplayChunk(r.Rate, limit)
	if outstanding < 0 {
		if err := st.sts[stepOutstanding].QueryRowContext(ctx, r.ID, 2*r.Window).Scan(&outstanding); err != nil {
			return nil, err
		}
	}
	if n = min(n, r.Window-int(outstanding)); n <= 0 {
		// The window is full: look again later, the job's state unchanged.
		_, err := st.sts[stepBackoff].ExecContext(ctx, micros(now.Add(hookd.ReplayBackoff(r.Rate))), r.ID)
		return []*hookd.ReplayItem{}, err
	}
	ids, err := scanInt64s(st.sts[stepPending].QueryContext(ctx, r.ID, n))
	if err != nil {
		return nil, err
	}
	var retried []int64
	if r.ExcludeRetried && len(ids) > 0 {
		if retried, err = scanInt64s(st.sts[stepRetried].QueryContext(ctx, idsJSON(ids))); err != nil {
			return nil, err
		}
	}
	toSend := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return slices.Contains(retried, id) })
	created := map[int64]int64{} // original id → new delivery id
	if len(toSend) > 0 {
		if created, err = scanPairs(st.sts[stepInsert].QueryContext(ctx,
			idsJSON(toSend), r.CreatedBy, micros(now), r.Filter.CreatedBy)); err != nil {
			return nil, err
		}
	}
	return st.record(ctx, r, ids, retried, created, now, wait)
}

// record stores the outcome of the items ids in one statement and moves the job on.
func (st *replayStepTx) record(ctx context.Context, r *hookd.Replay, ids, retried []int64, created map[int64]int64, now time.Time, wait time.Duration) ([]*hookd.ReplayItem, error) {
	o := hookd.ReplayOutcomes(r.ID, ids, retried, created, now)
	rows := make([][3]any, len(o.Items))
	for i, it := range o.Items {
		rows[i] = [3]any{it.DeliveryID, string(it.State), it.NewDeliveryID}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	if _, err := st.sts[stepItems].ExecContext(ctx, r.ID, micros(now), string(js)); err != nil {
		return nil, err
	}
	_, err = st.sts[stepAdvance].ExecContext(ctx, r.ID, o.Retried, o.Skipped, o.Failed, micros(now), micros(now.Add(wait)))
	return o.Items, err
}
