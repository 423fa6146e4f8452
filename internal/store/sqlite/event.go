package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

const eventInsertQuery = `INSERT INTO events (trigger_id, payload, target_id, created_by, created_on, ordering_key)
	VALUES (?, ?, ?, ?, ?, ?) RETURNING id`

// deliveryFanOutQuery creates the deliveries of a new event: one per enabled webhook whose mask
// matches (0 = every trigger) and whose target, if any, is the event's; held for a paused
// webhook, with the event's ordering key ?6 for an ordered one.
const deliveryFanOutQuery = `INSERT INTO deliveries
	(webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at, ordering_key)
	SELECT w.id, ?1, ?2, ` + newDeliveryState + `, ?3, ?4, ?4, CASE WHEN w.ordered THEN ?6 ELSE '' END
	FROM webhooks w
	WHERE w.enabled AND (w.triggers = 0 OR (w.triggers & ?2) <> 0) AND (w.target_id = '' OR w.target_id = ?5)
	ORDER BY w.id
	RETURNING id, webhook_id, state, ordering_key, (SELECT name FROM webhooks WHERE id = webhook_id)`

// newDeliveryState is the state of a new delivery to webhook w: held while it is paused.
const newDeliveryState = `CASE WHEN w.health = 'paused' THEN 'held' ELSE 'pending' END`

// validatePublish checks what the store requires of an event.
func validatePublish(p *hookd.EventPublishParams) *hookd.Error {
	if !p.Trigger.Single() {
		return hookd.Errorf(hookd.EINVALID, "An event has exactly one defined trigger, got %d.", int64(p.Trigger))
	}
	if !json.Valid(p.Payload) {
		return hookd.Errorf(hookd.EINVALID, "The event payload is not valid JSON.")
	}
	return nil
}

// EventPublishBatch validates every event first, then publishes them in order in one
// transaction with the same two prepared statements as EventPublish.
func (s *Store) EventPublishBatch(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	if len(ps) > hookd.MaxPublishBatch {
		return nil, hookd.Errorf(hookd.EINVALID, "A batch carries at most %d events, got %d.", hookd.MaxPublishBatch, len(ps))
	}
	for i, p := range ps {
		if err := validatePublish(p); err != nil {
			return nil, hookd.Errorf(hookd.EINVALID, "events[%d]: %s", i, err.Message)
		}
	}
	if len(ps) == 0 {
		return []*hookd.Published{}, nil
	}
	out, err := s.publishTx(ctx, ps)
	if err != nil {
		return nil, fmt.Errorf("publish batch: %w", err)
	}
	return out, nil
}

// publishTx publishes valid events in order in one write transaction.
func (s *Store) publishTx(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	tx, sts, err := s.begin(ctx, eventInsertQuery, deliveryFanOutQuery)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now()
	out := make([]*hookd.Published, 0, len(ps))
	for i, p := range ps {
		ev, ds, err := publish(ctx, sts, p, now)
		if err != nil && len(ps) > 1 {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		} else if err != nil {
			return nil, err
		}
		out = append(out, &hookd.Published{Event: ev, Deliveries: ds})
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// publish runs the two statements of one event (eventInsertQuery, deliveryFanOutQuery, bound
// to the caller's transaction) and returns the event and its deliveries in webhook id order.
func publish(ctx context.Context, sts []*sql.Stmt, p *hookd.EventPublishParams, now time.Time) (*hookd.Event, []*hookd.Delivery, error) {
	ev := &hookd.Event{
		Trigger:     p.Trigger,
		Payload:     slices.Clone(p.Payload),
		TargetID:    p.TargetID,
		OrderingKey: p.OrderingKey,
		CreatedBy:   p.CreatedBy,
		CreatedOn:   now,
	}
	if err := sts[0].QueryRowContext(ctx, int64(p.Trigger), []byte(p.Payload), p.TargetID, p.CreatedBy, micros(now), p.OrderingKey).
		Scan(&ev.ID); err != nil {
		return nil, nil, formatError(err)
	}
	rows, err := sts[1].QueryContext(ctx, ev.ID, int64(p.Trigger), p.UserID, micros(now), p.TargetID, p.OrderingKey)
	if err != nil {
		return nil, nil, formatError(err)
	}
	defer rows.Close()
	ds := []*hookd.Delivery{}
	for rows.Next() {
		d := &hookd.Delivery{
			EventID:       ev.ID,
			Trigger:       p.Trigger,
			CreatedBy:     p.UserID,
			CreatedOn:     now,
			NextAttemptAt: now,
			Event:         ev,
		}
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.State, &d.OrderingKey, &d.WebhookName); err != nil {
			return nil, nil, err
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// RETURNING order is unspecified; ids were assigned in webhook order.
	slices.SortFunc(ds, func(a, b *hookd.Delivery) int { return cmp.Compare(a.WebhookID, b.WebhookID) })
	return ev, ds, nil
}
