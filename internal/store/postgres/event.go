package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// newDeliveries selects, from a CTE named ins holding inserted deliveries, what the methods
// creating deliveries return: the delivery, its event and its webhook's name.
const newDeliveries = `SELECT ` + deliveryCols + `, ` + eventCols + `, w.name
	FROM ins d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id`

// newState and newKey are the state and ordering key of a delivery created to webhook w for
// event oe, as in publishSQL: held when w is paused, keyed when w is ordered.
const (
	newState = `CASE WHEN w.health = 'paused' THEN 'held' ELSE 'pending' END`
	newKey   = `CASE WHEN w.ordered THEN oe.ordering_key ELSE '' END`
)

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
						next_attempt_at, retry_of, ordering_key)
					SELECT o.webhook_id, o.event_id, o.trigger, `+newState+`, $2, $3, $3, o.id, `+newKey+`
					FROM deliveries o JOIN webhooks w ON w.id = o.webhook_id JOIN events oe ON oe.id = o.event_id
					WHERE o.id = $1 AND ($4::text IS NULL OR w.created_by = $4)
					FOR KEY SHARE OF w
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
