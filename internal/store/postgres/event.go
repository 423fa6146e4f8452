package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// newDeliveries selects, from a CTE named ins holding inserted deliveries, what the methods
// creating deliveries return: the delivery, its event and its webhook's name.
const newDeliveries = `SELECT ` + deliveryCols + `, ` + eventCols + `, w.name
	FROM ins d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id`

// scanNewDelivery reads one row of newDeliveries.
func scanNewDelivery(row pgx.Row) (*hookd.Delivery, error) {
	var (
		d  hookd.Delivery
		es eventScan
	)
	dest := append(deliveryDest(&d), es.dest()...)
	if err := row.Scan(append(dest, &d.WebhookName)...); err != nil {
		return nil, err
	}
	fixDelivery(&d)
	d.Event = es.event()
	return &d, nil
}

// EventPublish stores an event and a pending delivery, due now, for every enabled webhook
// that takes it, in one transaction that also notifies the dispatchers of every node.
func (s *Store) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	if !p.Trigger.Single() {
		return nil, nil, hookd.Errorf(hookd.EINVALID, "An event has exactly one defined trigger, got %d.", int64(p.Trigger))
	}
	if !json.Valid(p.Payload) {
		return nil, nil, hookd.Errorf(hookd.EINVALID, "The event payload is not valid JSON.")
	}
	now := s.now()
	payload := string(p.Payload) // a string goes to the json column byte for byte
	var (
		ev *hookd.Event
		ds []*hookd.Delivery
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var es eventScan
		if err := tx.QueryRow(ctx, `INSERT INTO events AS e (trigger, payload, target_id, created_by, created_on)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+eventCols,
			int64(p.Trigger), payload, p.TargetID, p.CreatedBy, now).Scan(es.dest()...); err != nil {
			return err
		}
		ev = es.event()
		rows, err := tx.Query(ctx, `WITH ins AS (
				INSERT INTO deliveries (webhook_id, event_id, trigger, state, created_by, created_on, next_attempt_at)
				SELECT w.id, $1, $2, 'pending', $3, $4, $4 FROM webhooks w
				WHERE w.enabled AND (w.triggers = 0 OR w.triggers & $2 <> 0)
					AND (w.target_id = '' OR w.target_id = $5)
				ORDER BY w.id
				RETURNING *)
			`+newDeliveries, ev.ID, int64(p.Trigger), p.UserID, now, p.TargetID)
		if err != nil {
			return err
		}
		ds, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanNewDelivery(r) })
		if err != nil {
			return err
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i].WebhookID < ds[j].WebhookID })
		for _, d := range ds {
			d.Event = ev
		}
		if len(ds) == 0 {
			return nil
		}
		return notify(ctx, tx)
	})
	if err != nil {
		return nil, nil, formatError("publish event", err)
	}
	return ev, ds, nil
}

// DeliveryRetry creates a new pending delivery, due now, for each id in order, skipping ids
// that do not exist or that WebhookCreatedBy excludes; it notifies the dispatchers when it
// created any.
func (s *Store) DeliveryRetry(ctx context.Context, p *hookd.DeliveryRetryParams) ([]*hookd.Delivery, error) {
	now := s.now()
	out := []*hookd.Delivery{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if len(p.IDs) == 0 {
			return nil
		}
		// One statement per id, all sent in one round trip; the batch keeps their order, so
		// the new ids ascend in the order of p.IDs.
		b := &pgx.Batch{}
		for _, id := range p.IDs {
			b.Queue(`WITH ins AS (
					INSERT INTO deliveries (webhook_id, event_id, trigger, state, created_by, created_on,
						next_attempt_at, retry_of)
					SELECT o.webhook_id, o.event_id, o.trigger, 'pending', $2, $3, $3, o.id
					FROM deliveries o JOIN webhooks ow ON ow.id = o.webhook_id
					WHERE o.id = $1 AND ($4::text IS NULL OR ow.created_by = $4)
					RETURNING *)
				`+newDeliveries, id, p.CreatedBy, now, p.WebhookCreatedBy)
		}
		br := tx.SendBatch(ctx, b)
		for range p.IDs {
			d, err := scanNewDelivery(br.QueryRow())
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			} else if err != nil {
				br.Close()
				return err
			}
			out = append(out, d)
		}
		if err := br.Close(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		return notify(ctx, tx)
	})
	if err != nil {
		return nil, formatError("retry deliveries", err)
	}
	return out, nil
}
