package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// replayItemsPruneSQL deletes up to $2 items of jobs finished before $1.
const replayItemsPruneSQL = `DELETE FROM replay_items WHERE (replay_id, delivery_id) IN (
		SELECT i.replay_id, i.delivery_id FROM replays r JOIN replay_items i ON i.replay_id = r.id
		WHERE r.state IN ('done', 'cancelled') AND r.finished_on < $1 LIMIT $2)`

// replaysPruneSQL deletes the jobs finished before $1 that have no item left.
const replaysPruneSQL = `DELETE FROM replays WHERE state IN ('done', 'cancelled') AND finished_on < $1
		AND NOT EXISTS (SELECT 1 FROM replay_items i WHERE i.replay_id = replays.id)`

// ReplayPrune deletes up to limit items of jobs finished before `before`, then the finished
// jobs left without items, in one transaction.
func (s *Store) ReplayPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		items, err := tx.Exec(ctx, replayItemsPruneSQL, micro(before), limit)
		if err != nil {
			return err
		}
		jobs, err := tx.Exec(ctx, replaysPruneSQL, micro(before))
		if err != nil {
			return err
		}
		n = items.RowsAffected() + jobs.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, formatError("prune replays", err)
	}
	return int(n), nil
}
