package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

// deliveryClaimQuery leases the oldest due deliveries in one statement. Each due state is read
// as its own range of deliveries_due, already in (next_attempt_at, id) order, so each arm
// stops after ?3 rows instead of sorting the whole backlog; the outer ORDER BY merges them.
// Held deliveries are in no arm. A delivery whose ordering key has an older open delivery is
// passed over (keyBlocked): only a key's head goes, so never two of one key at once. So are
// the deliveries of the webhooks in ?4 (SkipWebhooks, a JSON array).
//
// The limit is written `?3 + 0`, not `?3`: SQLite (3.54) marks a statement whose LIMIT is a
// bare parameter to be recompiled whenever that parameter is bound to a new value, and the
// dispatcher's limit (its free slots) changes from one claim to the next. Recompiling this
// statement took 16 % of the server's CPU in a backlog drain (docs/perf.md);
// BenchmarkClaimVaryingLimit shows it.
const deliveryClaimQuery = `UPDATE deliveries
	SET state = 'inflight', lease_until = ?1, claim_token = claim_token + 1
	WHERE id IN (
		SELECT id FROM (
			SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at FROM deliveries d
				WHERE d.state = 'pending' AND d.next_attempt_at <= ?2 AND NOT (` + keyBlocked + `)
					AND d.webhook_id NOT IN (SELECT value FROM json_each(?4))
				ORDER BY d.next_attempt_at, d.id LIMIT ?3 + 0)
			UNION ALL
			SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at FROM deliveries d
				WHERE d.state = 'retrying' AND d.next_attempt_at <= ?2 AND NOT (` + keyBlocked + `)
					AND d.webhook_id NOT IN (SELECT value FROM json_each(?4))
				ORDER BY d.next_attempt_at, d.id LIMIT ?3 + 0)
			UNION ALL
			SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at FROM deliveries d
				WHERE d.state = 'inflight' AND d.lease_until < ?2 AND NOT (` + keyBlocked + `)
					AND d.webhook_id NOT IN (SELECT value FROM json_each(?4))
				ORDER BY d.next_attempt_at, d.id LIMIT ?3 + 0)
		) ORDER BY next_attempt_at, id LIMIT ?3 + 0
	)
	RETURNING ` + claimedCols

// claimedCols are the delivery columns a claim returns, in claimedDest order.
const claimedCols = `id, webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at,
	lease_until, attempts, retry_of, status, delivered_on, last_error, ordering_key, claim_token`

// claimedDest returns the scan targets of claimedCols for claim c.
func claimedDest(c *hookd.Claim) []any {
	d := c.Delivery
	return []any{&d.ID, &d.WebhookID, &d.EventID, &d.Trigger, &d.State, &d.CreatedBy, timeCol{&d.CreatedOn},
		timeCol{&d.NextAttemptAt}, nullTimeCol{&d.LeaseUntil}, &d.Attempts, &d.RetryOf, &d.Status,
		nullTimeCol{&d.DeliveredOn}, &d.LastError, &d.OrderingKey, &c.Token}
}

// claimEventsQuery and claimWebhooksQuery read the events and webhooks of a claim, each once
// however many of the claimed deliveries share it.
const claimEventsQuery = `SELECT e.id, e.trigger_id, e.payload, e.target_id, e.ordering_key, e.created_by, e.created_on
	FROM events e WHERE e.id IN (SELECT value FROM json_each(?))`

var claimWebhooksQuery = `SELECT ` + webhookCols + ` FROM webhooks w WHERE w.id IN (SELECT value FROM json_each(?))`

// deliveriesByIDQuery reads deliveries as listed, in id order.
const deliveriesByIDQuery = `SELECT ` + deliveryViewCols + deliveryViewFrom + `
	WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`

// DeliveryClaim leases up to p.Limit due deliveries until now+p.Lease, oldest due first, and
// returns them with their event and current webhook. Each claim bumps the delivery's
// claim token, which fences off the attempt of an earlier, expired claim. Three statements
// whatever the batch size: the claim returns the delivery rows, then their events and
// webhooks are read once each.
func (s *Store) DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.Lease <= 0 {
		return nil, hookd.Errorf(hookd.EINVALID, "The claim lease must be positive.")
	}
	tx, sts, err := s.begin(ctx, deliveryClaimQuery, claimEventsQuery, claimWebhooksQuery)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	claims, err := scanClaims(sts[0].QueryContext(ctx, micros(now.Add(p.Lease)), micros(now), p.Limit, skipJSON(p.SkipWebhooks)))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(claims) == 0 {
		return nil, tx.Commit()
	}
	if err := claimJoin(ctx, sts[1], sts[2], claims); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claims, nil
}

// scanClaims reads the rows of deliveryClaimQuery, oldest due first.
func scanClaims(rows *sql.Rows, err error) ([]*hookd.Claim, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var claims []*hookd.Claim
	for rows.Next() {
		c := &hookd.Claim{Delivery: &hookd.Delivery{}}
		if err := rows.Scan(claimedDest(c)...); err != nil {
			return nil, err
		}
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// RETURNING order is unspecified.
	slices.SortFunc(claims, func(a, b *hookd.Claim) int {
		return cmp.Or(a.Delivery.NextAttemptAt.Compare(b.Delivery.NextAttemptAt), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
	return claims, nil
}

// claimJoin sets the event and webhook of each claim, each claim with its own copy.
func claimJoin(ctx context.Context, events, webhooks *sql.Stmt, claims []*hookd.Claim) error {
	var eventIDs, webhookIDs []int64
	for _, c := range claims {
		eventIDs = append(eventIDs, c.Delivery.EventID)
		webhookIDs = append(webhookIDs, c.Delivery.WebhookID)
	}
	byEvent := make(map[int64]*hookd.Event, len(claims))
	rows, err := events.QueryContext(ctx, idsJSON(compactIDs(eventIDs)))
	if err != nil {
		return err
	}
	for rows.Next() {
		var e hookd.Event
		if err := rows.Scan(&e.ID, &e.Trigger, (*[]byte)(&e.Payload), &e.TargetID, &e.OrderingKey, &e.CreatedBy,
			timeCol{&e.CreatedOn}); err != nil {
			rows.Close()
			return err
		}
		byEvent[e.ID] = &e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ws, err := scanWebhooks(webhooks.QueryContext(ctx, idsJSON(compactIDs(webhookIDs))))
	if err != nil {
		return err
	}
	byWebhook := make(map[int64]*hookd.Webhook, len(ws))
	for _, w := range ws {
		byWebhook[w.ID] = w
	}
	for _, c := range claims {
		e, w := byEvent[c.Delivery.EventID], byWebhook[c.Delivery.WebhookID]
		if e == nil || w == nil { // both are kept by foreign keys while the transaction runs
			return fmt.Errorf("delivery %d: event %d or webhook %d missing", c.Delivery.ID, c.Delivery.EventID, c.Delivery.WebhookID)
		}
		ev, wh := *e, *w
		c.Delivery.Event, c.Webhook, c.Delivery.WebhookName = &ev, &wh, w.Name
	}
	return nil
}

// compactIDs sorts ids and drops duplicates, in place.
func compactIDs(ids []int64) []int64 {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// nextDueQuery is two MIN()s over an equality prefix of deliveries_due: two index probes.
const nextDueQuery = `SELECT MIN(t) FROM (
	SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE state = 'pending'
	UNION ALL
	SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'retrying')`

// DeliveryNextDue returns when the earliest pending or retrying delivery comes due, or the
// zero time when none is waiting.
func (s *Store) DeliveryNextDue(ctx context.Context) (time.Time, error) {
	st, err := s.readStmt(ctx, nextDueQuery)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due delivery: %w", err)
	}
	var next sql.NullInt64
	if err := st.QueryRowContext(ctx).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next due delivery: %w", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMicros(next.Int64), nil
}

const deliveryReleaseQuery = `UPDATE deliveries
	SET state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END, lease_until = NULL
	WHERE id = ? AND state = 'inflight' AND claim_token = ?`

// DeliveryRelease puts deliveries still held by these claims back in the due state
// (pending, or retrying when attempted before) without recording an attempt. Claims whose
// token no longer holds are left alone.
func (s *Store) DeliveryRelease(ctx context.Context, claims []*hookd.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	tx, sts, err := s.begin(ctx, deliveryReleaseQuery)
	if err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	defer tx.Rollback()
	for _, c := range claims {
		if _, err := sts[0].ExecContext(ctx, c.Delivery.ID, c.Token); err != nil {
			return fmt.Errorf("release delivery %d: %w", c.Delivery.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	return nil
}

// queryIDs runs a statement returning one id per row and returns the ids in ascending order.
func queryIDs(ctx context.Context, st *sql.Stmt, args ...any) ([]int64, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// deliveriesByID reads the deliveries with these ids as listed, in id order.
func deliveriesByID(ctx context.Context, st *sql.Stmt, ids []int64) ([]*hookd.Delivery, error) {
	ds := make([]*hookd.Delivery, 0, len(ids))
	if len(ids) == 0 {
		return ds, nil
	}
	rows, err := st.QueryContext(ctx, idsJSON(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDeliveryView(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// skipJSON is the JSON array of the webhooks a claim passes over: "[]" for none (json.Marshal
// writes a nil slice as null, which json_each reads as one NULL value, and NOT IN (NULL)
// would pass over everything).
func skipJSON(ids []int64) string {
	if len(ids) == 0 {
		return "[]"
	}
	return idsJSON(ids)
}
