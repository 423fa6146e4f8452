package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

// deliveryStatsQuery reads the backlog in one statement (one snapshot). Each count is a range
// of deliveries_due (state, next_attempt_at), so no table row is read.
const deliveryStatsQuery = `SELECT
	(SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'retrying'),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'inflight'),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'held'),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1)
		+ (SELECT COUNT(*) FROM deliveries WHERE state = 'retrying' AND next_attempt_at <= ?1),
	(SELECT MIN(t) FROM (
		SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1
		UNION ALL
		SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'retrying' AND next_attempt_at <= ?1))`

// DeliveryStats returns the size of the backlog and the due time of its oldest due delivery.
func (s *Store) DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error) {
	var (
		st     hookd.DeliveryStats
		oldest sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, deliveryStatsQuery, micros(s.now())).
		Scan(&st.Pending, &st.Retrying, &st.Inflight, &st.Held, &st.Due, &oldest)
	if err != nil {
		return nil, fmt.Errorf("delivery stats: %w", err)
	}
	if oldest.Valid {
		st.OldestDue = fromMicros(oldest.Int64)
	}
	return &st, nil
}

// pruneDeliveriesQuery deletes one batch of old finished deliveries, oldest first, through
// deliveries_final_created_on (its WHERE must match the index's); attempts go by cascade.
// INDEXED BY: without statistics the planner prefers deliveries_due (state = ?) and sorts
// every finished delivery to find the oldest.
const pruneDeliveriesQuery = `DELETE FROM deliveries WHERE id IN (
		SELECT id FROM deliveries INDEXED BY deliveries_final_created_on
		WHERE state IN ('delivered', 'failed') AND created_on < ?1
		ORDER BY created_on LIMIT ?2)
	RETURNING event_id`

// pruneEventsQuery deletes the events of pruned deliveries that no delivery uses any more.
const pruneEventsQuery = `DELETE FROM events
	WHERE id IN (SELECT value FROM json_each(?1))
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)`

// pruneOrphanEventsQuery deletes old events that have no delivery at all (published when no
// webhook matched), oldest first.
const pruneOrphanEventsQuery = `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e
		WHERE e.created_on < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
		ORDER BY e.created_on LIMIT ?2)`

// DeliveryPrune deletes up to limit delivered or failed deliveries created before before,
// oldest first, with their attempts and the events left without deliveries, in one short
// write transaction. Once a batch comes back short (the old deliveries are gone), it also
// deletes up to limit old events that never had a delivery. It returns how many deliveries it
// deleted.
func (s *Store) DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, pruneDeliveriesQuery, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	var events []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune deliveries: %w", err)
		}
		events = append(events, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n := len(events)
	events = compactIDs(events)
	if len(events) > 0 {
		if _, err := tx.ExecContext(ctx, pruneEventsQuery, idsJSON(events)); err != nil {
			return 0, fmt.Errorf("prune events: %w", err)
		}
	}
	if n < limit {
		if _, err := tx.ExecContext(ctx, pruneOrphanEventsQuery, micros(before), limit); err != nil {
			return 0, fmt.Errorf("prune events without deliveries: %w", err)
		}
		// Counters of hours whose deliveries are all gone: the listing sums what is left.
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_counts WHERE n = 0`); err != nil {
			return 0, fmt.Errorf("prune delivery counts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}

// disableFailingQuery switches off the enabled webhooks whose last attempt failed, after their
// last (re)configuration, and that have not succeeded since ?1 (counting from creation when
// they never did). Requiring a failure after modified_on means a webhook a person turns back
// on stays on until an attempt fails again, as DocSpace decides at the failure.
var disableFailingQuery = `UPDATE webhooks SET enabled = 0, disabled_reason = ?2
	WHERE enabled = 1
		AND last_failure_on IS NOT NULL
		AND (last_success_on IS NULL OR last_success_on < last_failure_on)
		AND (modified_on IS NULL OR modified_on < last_failure_on)
		AND COALESCE(last_success_on, created_on) < ?1
	RETURNING ` + webhookReturning

// WebhookDisableFailing disables every enabled webhook that has failed without success since
// since, with reason, and returns them in id order.
func (s *Store) WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error) {
	ws, err := scanWebhooks(s.write.QueryContext(ctx, disableFailingQuery, micros(since), reason))
	if err != nil {
		return nil, fmt.Errorf("disable failing webhooks: %w", err)
	}
	return ws, nil
}

// replayItemsPruneQuery deletes up to ?2 items of jobs finished before ?1.
const replayItemsPruneQuery = `DELETE FROM replay_items WHERE (replay_id, delivery_id) IN (
		SELECT i.replay_id, i.delivery_id FROM replays r JOIN replay_items i ON i.replay_id = r.id
		WHERE r.state IN ('done', 'cancelled') AND r.finished_on < ?1 LIMIT ?2)`

// replaysPruneQuery deletes the jobs finished before ?1 that have no item left.
const replaysPruneQuery = `DELETE FROM replays WHERE state IN ('done', 'cancelled') AND finished_on < ?1
		AND NOT EXISTS (SELECT 1 FROM replay_items i WHERE i.replay_id = replays.id)`

// ReplayPrune deletes up to limit items of jobs finished before `before`, then the finished
// jobs left without items, in one transaction.
func (s *Store) ReplayPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune replays: %w", err)
	}
	defer tx.Rollback()
	items, err := tx.ExecContext(ctx, replayItemsPruneQuery, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("prune replay items: %w", err)
	}
	jobs, err := tx.ExecContext(ctx, replaysPruneQuery, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune replays: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune replays: %w", err)
	}
	ni, _ := items.RowsAffected()
	nj, _ := jobs.RowsAffected()
	return int(ni + nj), nil
}
