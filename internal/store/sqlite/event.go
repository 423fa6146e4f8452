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

// publishTx publishes valid events in order in one write transaction, set-based: the events
// go in chunks (recordChunks sizes), each chunk one multi-row INSERT of its events and one
// INSERT ... SELECT of all their deliveries, instead of two statements per event.
func (s *Store) publishTx(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	tx, sts, err := s.begin(ctx, publishQueries...)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now()
	out := make([]*hookd.Published, len(ps))
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	err = chunked(idx, func(size int, part []int) error {
		return publishChunk(ctx, sts[2*size], sts[2*size+1], ps, part, now, out)
	})
	if err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// publishQueries lists the statements publishTx prepares: per chunk size an event insert and
// a fan-out.
var publishQueries = func() []string {
	var qs []string
	for _, n := range recordChunks {
		qs = append(qs, eventChunkQuery(n), fanOutChunkQuery(n))
	}
	return qs
}()

// eventChunkQuery inserts n events.
func eventChunkQuery(n int) string {
	return `INSERT INTO events (trigger_id, payload, target_id, created_by, created_on, ordering_key)
	VALUES ` + placeholders(n, 6) + ` RETURNING id`
}

// fanOutChunkQuery creates the deliveries of n new events: one per enabled webhook whose mask
// matches (0 = every trigger) and whose target, if any, is the event's; held for a paused
// webhook, with the event's ordering key for an ordered one. ?1 is the time, then per event
// its id, trigger, user, target id and ordering key. Deliveries are numbered in event order,
// then webhook order.
func fanOutChunkQuery(n int) string {
	return `INSERT INTO deliveries
	(webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at, ordering_key)
	SELECT w.id, v.column1, v.column2, ` + newDeliveryState + `, v.column3, ?1, ?1,
		CASE WHEN w.ordered THEN v.column5 ELSE '' END
	FROM (VALUES ` + placeholders(n, 5) + `) v JOIN webhooks w
		ON w.enabled AND (w.triggers = 0 OR (w.triggers & v.column2) <> 0) AND (w.target_id = '' OR w.target_id = v.column4)
	WHERE true
	ORDER BY v.column1, w.id
	RETURNING id, event_id, webhook_id, state, ordering_key, (SELECT name FROM webhooks WHERE id = webhook_id)`
}

// publishChunk stores the events ps[part...] with the chunk's two statements and sets their
// results in out.
func publishChunk(ctx context.Context, events, fanOut *sql.Stmt, ps []*hookd.EventPublishParams, part []int, now time.Time, out []*hookd.Published) error {
	args := make([]any, 0, 6*len(part))
	for _, i := range part {
		p := ps[i]
		args = append(args, int64(p.Trigger), []byte(p.Payload), p.TargetID, p.CreatedBy, micros(now), p.OrderingKey)
	}
	ids, err := queryIDs(ctx, events, args...)
	if err != nil {
		return err
	}
	if len(ids) != len(part) {
		return fmt.Errorf("publish: %d event ids for %d events", len(ids), len(part))
	}
	// One writer and no explicit ids: the rows of one INSERT get ascending ids in VALUES order.
	byID := make(map[int64]int, len(part)) // event id -> index in ps and out
	fanArgs := append(make([]any, 0, 1+5*len(part)), micros(now))
	for k, i := range part {
		p := ps[i]
		ev := &hookd.Event{ID: ids[k], Trigger: p.Trigger, Payload: slices.Clone(p.Payload), TargetID: p.TargetID,
			OrderingKey: p.OrderingKey, CreatedBy: p.CreatedBy, CreatedOn: now}
		out[i] = &hookd.Published{Event: ev, Deliveries: []*hookd.Delivery{}}
		byID[ev.ID] = i
		fanArgs = append(fanArgs, ev.ID, int64(p.Trigger), p.UserID, p.TargetID, p.OrderingKey)
	}
	rows, err := fanOut.QueryContext(ctx, fanArgs...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var eventID int64
		d := &hookd.Delivery{CreatedOn: now, NextAttemptAt: now}
		if err := rows.Scan(&d.ID, &eventID, &d.WebhookID, &d.State, &d.OrderingKey, &d.WebhookName); err != nil {
			return err
		}
		i, ok := byID[eventID]
		if !ok {
			return fmt.Errorf("publish: delivery %d of unknown event %d", d.ID, eventID)
		}
		d.EventID, d.Trigger, d.CreatedBy, d.Event = eventID, ps[i].Trigger, ps[i].UserID, out[i].Event
		out[i].Deliveries = append(out[i].Deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range part {
		// RETURNING order is unspecified; ids were assigned in webhook order.
		slices.SortFunc(out[i].Deliveries, func(a, b *hookd.Delivery) int { return cmp.Compare(a.WebhookID, b.WebhookID) })
	}
	return nil
}
