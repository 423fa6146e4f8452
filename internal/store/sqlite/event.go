package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hookd/hookd"
)

const eventInsertQuery = `INSERT INTO events (trigger_id, payload, target_id, created_by, created_on)
	VALUES (?, ?, ?, ?, ?) RETURNING id`

// deliveryFanOutQuery creates the deliveries of a new event: one per enabled webhook whose mask
// matches (0 = every trigger) and whose target, if any, is the event's.
const deliveryFanOutQuery = `INSERT INTO deliveries
	(webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at)
	SELECT w.id, ?1, ?2, 'pending', ?3, ?4, ?4 FROM webhooks w
	WHERE w.enabled AND (w.triggers = 0 OR (w.triggers & ?2) <> 0) AND (w.target_id = '' OR w.target_id = ?5)
	ORDER BY w.id
	RETURNING id, webhook_id, (SELECT name FROM webhooks WHERE id = webhook_id)`

// EventPublish stores an event and one pending delivery, due now, per matching enabled webhook,
// in one transaction of two statements. The deliveries come back in webhook id order.
func (s *Store) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	if !p.Trigger.Single() {
		return nil, nil, hookd.Errorf(hookd.EINVALID, "An event has exactly one defined trigger, got %d.", int64(p.Trigger))
	}
	if !json.Valid(p.Payload) {
		return nil, nil, hookd.Errorf(hookd.EINVALID, "The event payload is not valid JSON.")
	}
	tx, sts, err := s.begin(ctx, eventInsertQuery, deliveryFanOutQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	ev := &hookd.Event{
		Trigger:   p.Trigger,
		Payload:   slices.Clone(p.Payload),
		TargetID:  p.TargetID,
		CreatedBy: p.CreatedBy,
		CreatedOn: now,
	}
	if err := sts[0].QueryRowContext(ctx, int64(p.Trigger), []byte(p.Payload), p.TargetID, p.CreatedBy, micros(now)).
		Scan(&ev.ID); err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", formatError(err))
	}
	rows, err := sts[1].QueryContext(ctx, ev.ID, int64(p.Trigger), p.UserID, micros(now), p.TargetID)
	if err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", formatError(err))
	}
	defer rows.Close()
	ds := []*hookd.Delivery{}
	for rows.Next() {
		d := &hookd.Delivery{
			EventID:       ev.ID,
			Trigger:       p.Trigger,
			State:         hookd.DeliveryStatePending,
			CreatedBy:     p.UserID,
			CreatedOn:     now,
			NextAttemptAt: now,
			Event:         ev,
		}
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.WebhookName); err != nil {
			return nil, nil, fmt.Errorf("publish event: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	// RETURNING order is unspecified; ids were assigned in webhook order.
	slices.SortFunc(ds, func(a, b *hookd.Delivery) int { return cmp.Compare(a.WebhookID, b.WebhookID) })
	return ev, ds, nil
}
