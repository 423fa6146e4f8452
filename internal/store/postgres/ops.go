package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// deliveryStatsSQL reads the backlog in one pass over the rows of the partial index
// deliveries_open, whose WHERE this one repeats.
const deliveryStatsSQL = `SELECT
		count(*) FILTER (WHERE state = 'pending'),
		count(*) FILTER (WHERE state = 'retrying'),
		count(*) FILTER (WHERE state = 'inflight'),
		count(*) FILTER (WHERE state = 'held'),
		count(*) FILTER (WHERE state IN ('pending', 'retrying') AND next_attempt_at <= $1),
		min(next_attempt_at) FILTER (WHERE state IN ('pending', 'retrying') AND next_attempt_at <= $1)
	FROM deliveries WHERE state IN ('pending', 'retrying', 'inflight', 'held')`

// DeliveryStats returns the size of the backlog and the due time of its oldest due delivery.
func (s *Store) DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error) {
	var (
		st     hookd.DeliveryStats
		oldest *time.Time
	)
	if err := s.pool.QueryRow(ctx, deliveryStatsSQL, s.now()).
		Scan(&st.Pending, &st.Retrying, &st.Inflight, &st.Held, &st.Due, &oldest); err != nil {
		return nil, formatError("delivery stats", err)
	}
	if oldest != nil {
		st.OldestDue = oldest.UTC()
	}
	return &st, nil
}

// pruneDeliveriesSQL deletes one batch of old finished deliveries, oldest first, through
// deliveries_final_created_on; attempts go by cascade. SKIP LOCKED lets two nodes' janitors
// (and a concurrent AttemptRecord of a stale claim) pass each other instead of waiting.
const pruneDeliveriesSQL = `WITH doomed AS (
		SELECT id FROM deliveries
		WHERE state IN ('delivered', 'failed') AND created_on < $1
		ORDER BY created_on LIMIT $2
		FOR UPDATE SKIP LOCKED
	)
	DELETE FROM deliveries d USING doomed WHERE d.id = doomed.id
	RETURNING d.event_id`

// pruneEventsSQL deletes the events of pruned deliveries that no delivery uses any more.
const pruneEventsSQL = `DELETE FROM events e
	WHERE e.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`

// pruneOrphanEventsSQL deletes old events that have no delivery at all (published when no
// webhook matched), oldest first.
const pruneOrphanEventsSQL = `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e
		WHERE e.created_on < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
		ORDER BY e.created_on LIMIT $2
		FOR UPDATE SKIP LOCKED)`

// DeliveryPrune deletes up to limit delivered or failed deliveries created before before,
// oldest first, with their attempts and the events left without deliveries, in one short
// transaction. Once a batch comes back short (the old deliveries are gone), it also deletes up
// to limit old events that never had a delivery. It returns how many deliveries it deleted.
func (s *Store) DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, pruneDeliveriesSQL, micro(before), limit)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(events)
		slices.Sort(events)
		events = slices.Compact(events)
		if len(events) > 0 {
			if _, err := tx.Exec(ctx, pruneEventsSQL, events); err != nil {
				return err
			}
		}
		if n < limit {
			if _, err := tx.Exec(ctx, pruneOrphanEventsSQL, micro(before), limit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, formatError("prune deliveries", err)
	}
	return n, nil
}

// disableFailingSQL switches off the enabled webhooks whose last attempt failed, after their
// last (re)configuration, and that have not succeeded since $1 (counting from creation when
// they never did). Requiring a failure after modified_on means a webhook a person turns back
// on stays on until an attempt fails again, as DocSpace decides at the failure.
const disableFailingSQL = `UPDATE webhooks w SET enabled = false, disabled_reason = $2
	WHERE w.enabled
		AND w.last_failure_on IS NOT NULL
		AND (w.last_success_on IS NULL OR w.last_success_on < w.last_failure_on)
		AND (w.modified_on IS NULL OR w.modified_on < w.last_failure_on)
		AND coalesce(w.last_success_on, w.created_on) < $1
	RETURNING ` + webhookCols

// WebhookDisableFailing disables every enabled webhook that has failed without success since
// since, with reason, and returns them in id order.
func (s *Store) WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error) {
	rows, err := s.pool.Query(ctx, disableFailingSQL, micro(since), reason)
	if err != nil {
		return nil, formatError("disable failing webhooks", err)
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, formatError("disable failing webhooks", err)
	}
	slices.SortFunc(ws, func(a, b *hookd.Webhook) int { return int(a.ID - b.ID) })
	if ws == nil {
		ws = []*hookd.Webhook{}
	}
	return ws, nil
}
