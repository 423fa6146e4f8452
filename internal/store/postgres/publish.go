package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hookd/hookd"
)

// publishSQL publishes a set of events in one statement, hence one transaction and one round
// trip: the events, one delivery per event and matching webhook, and the wake-up of every
// node's dispatcher. The arrays $1..$6 hold the events in order.
//
// Ids ascend in the order of the events, and the deliveries' in event then webhook order: an
// INSERT ... SELECT ... ORDER BY takes its default ids row by row in that order. Publish order
// is id order, which ordered delivery relies on. The events are matched back to their input
// row by that order (row_number over the new ids), since RETURNING cannot carry the ordinal.
//
// Webhooks are read FOR KEY SHARE (health.go says why); a delivery to a paused webhook is
// created held, and one to an ordered webhook carries its event's ordering key. The result
// has one row per delivery, or one with NULLs for an event no webhook takes.
const publishSQL = `WITH input AS (
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
			WITH ORDINALITY AS i(trigger, payload, target_id, ordering_key, created_by, user_id, ord)
	), ev AS (
		INSERT INTO events (trigger, payload, target_id, ordering_key, created_by, created_on)
		SELECT i.trigger, i.payload::json, i.target_id, i.ordering_key, i.created_by, $7
		FROM input i ORDER BY i.ord
		RETURNING id
	), evo AS (
		SELECT ev.id, row_number() OVER (ORDER BY ev.id) AS ord FROM ev
	), ins AS (
		INSERT INTO deliveries (webhook_id, event_id, trigger, state, created_by, created_on, next_attempt_at,
			ordering_key)
		SELECT w.id, e.id, i.trigger, CASE WHEN w.health = 'paused' THEN 'held' ELSE 'pending' END,
			i.user_id, $7, $7, CASE WHEN w.ordered THEN i.ordering_key ELSE '' END
		FROM evo e
		JOIN input i ON i.ord = e.ord
		JOIN webhooks w ON w.enabled AND (w.triggers = 0 OR w.triggers & i.trigger <> 0)
			AND (w.target_id = '' OR w.target_id = i.target_id)
		ORDER BY e.id, w.id
		FOR KEY SHARE OF w
		RETURNING id, webhook_id, event_id, state, ordering_key
	), woke AS (
		SELECT pg_notify($8, '') FROM (SELECT 1 FROM ins LIMIT 1) one
	)
	SELECT e.ord, e.id, d.id, d.webhook_id, d.state, d.ordering_key, w.name, (SELECT count(*) FROM woke)
	FROM evo e
	LEFT JOIN ins d ON d.event_id = e.id
	LEFT JOIN webhooks w ON w.id = d.webhook_id
	ORDER BY e.ord, d.webhook_id`

// validatePublish checks one event as EventPublish does.
func validatePublish(p *hookd.EventPublishParams) error {
	if !p.Trigger.Single() {
		return hookd.Errorf(hookd.EINVALID, "An event has exactly one defined trigger, got %d.", int64(p.Trigger))
	}
	if !json.Valid(p.Payload) {
		return hookd.Errorf(hookd.EINVALID, "The event payload is not valid JSON.")
	}
	return nil
}

// EventPublish stores an event and a delivery, due now, for every enabled webhook that takes
// it, in one transaction that also notifies the dispatchers of every node. Concurrent calls
// share transactions (groupcommit): a lone call goes at once.
func (s *Store) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	if err := validatePublish(p); err != nil {
		return nil, nil, err
	}
	pub, err := s.publisher.Publish(ctx, p)
	if err != nil {
		return nil, nil, formatError("publish event", err)
	}
	return pub.Event, pub.Deliveries, nil
}

// EventPublishBatch publishes every event of ps in one transaction and returns them in order.
func (s *Store) EventPublishBatch(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	if len(ps) > hookd.MaxPublishBatch {
		return nil, hookd.Errorf(hookd.EINVALID, "Too many events: %d, at most %d per batch.", len(ps), hookd.MaxPublishBatch)
	}
	for i, p := range ps {
		if err := validatePublish(p); err != nil {
			return nil, hookd.Errorf(hookd.EINVALID, "events[%d]: %s", i, hookd.ErrorMessage(err))
		}
	}
	if len(ps) == 0 {
		return []*hookd.Published{}, nil
	}
	out, err := s.publish(ctx, ps)
	if err != nil {
		return nil, formatError("publish events", err)
	}
	return out, nil
}

// publish runs publishSQL for valid events ps and returns them in order.
func (s *Store) publish(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	n := len(ps)
	var (
		triggers                                   = make([]int64, n)
		payloads, targets, keys, creators, userIDs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, p := range ps {
		// A string goes to the json column byte for byte.
		triggers[i], payloads[i], targets[i], keys[i] = int64(p.Trigger), string(p.Payload), p.TargetID, p.OrderingKey
		creators[i], userIDs[i] = p.CreatedBy, p.UserID
	}
	now := s.now()
	rows, err := s.pool.Query(ctx, publishSQL, triggers, payloads, targets, keys, creators, userIDs, now, notifyChannel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]*hookd.Published, n)
	for rows.Next() {
		var (
			ord, evID, woke int64
			id, webhookID   *int64
			state, key      *string
			name            *string
		)
		if err := rows.Scan(&ord, &evID, &id, &webhookID, &state, &key, &name, &woke); err != nil {
			return nil, err
		}
		if ord < 1 || ord > int64(n) {
			return nil, fmt.Errorf("publish: event ordinal %d out of range", ord)
		}
		pub := out[ord-1]
		if pub == nil {
			p := ps[ord-1]
			pub = &hookd.Published{
				Event: &hookd.Event{ID: evID, Trigger: p.Trigger, Payload: p.Payload, TargetID: p.TargetID,
					OrderingKey: p.OrderingKey, CreatedBy: p.CreatedBy, CreatedOn: now},
				Deliveries: []*hookd.Delivery{},
			}
			out[ord-1] = pub
		}
		if id == nil {
			continue // no webhook takes the event
		}
		pub.Deliveries = append(pub.Deliveries, &hookd.Delivery{
			ID: *id, WebhookID: *webhookID, EventID: evID, Trigger: pub.Event.Trigger,
			State: hookd.DeliveryState(*state), CreatedBy: ps[ord-1].UserID, CreatedOn: now,
			NextAttemptAt: now, OrderingKey: *key, Event: pub.Event, WebhookName: *name,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, pub := range out {
		if pub == nil {
			return nil, fmt.Errorf("publish: event %d not returned", i)
		}
	}
	return out, nil
}
