package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// recordedDelivery is what AttemptRecord knows of a locked delivery while it goes through the
// results of one batch (two results may concern the same delivery).
type recordedDelivery struct {
	webhookID int64
	state     hookd.DeliveryState
	token     int64
	number    int // number of the newest attempt stored
}

// insertAttemptSQL stores an attempt (alone: one whose claim no longer holds its delivery).
const insertAttemptSQL = `INSERT INTO attempts (delivery_id, number, started_at, duration_ns, request_headers,
		request_body, status, response_headers, response_body, error)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`

// recordAttemptSQL stores an attempt and moves its delivery on, in one statement. $11..$14
// are the new state, next attempt time (NULL keeps it), end of the attempt and the error.
const recordAttemptSQL = `WITH a AS (` + insertAttemptSQL + `)
	UPDATE deliveries d SET state = $11, next_attempt_at = coalesce($12, d.next_attempt_at),
		lease_until = NULL, attempts = d.attempts + 1, status = $7, delivered_on = $13,
		last_error = $10, last_attempt_id = a.id
	FROM a WHERE d.id = $1`

// recordWebhookSQL keeps the webhook's view of its deliveries: last success ($2) or failure
// ($3, $4) when the batch had one, last status, and switches it off when a result asked for
// it ($6 not empty).
const recordWebhookSQL = `UPDATE webhooks SET
		last_success_on = coalesce($2, last_success_on),
		last_failure_on = coalesce($3, last_failure_on),
		last_failure_content = CASE WHEN $3::timestamptz IS NULL THEN last_failure_content ELSE $4 END,
		last_status = $5,
		enabled = CASE WHEN $6 = '' THEN enabled ELSE false END,
		disabled_reason = CASE WHEN $6 = '' THEN disabled_reason ELSE $6 END
	WHERE id = $1`

// webhookRecord is what one batch of results does to one webhook: the results applied one
// after the other, folded into a single UPDATE.
type webhookRecord struct {
	successOn, failureOn *time.Time
	failureContent       string
	status               int
	disable              string
}

// AttemptRecord stores finished attempts in one transaction and one round trip of
// statements. Every attempt whose delivery still exists is stored, numbered after the
// delivery's previous attempts; only those whose claim token still holds the delivery move
// it on and update its webhook. Results for deliveries deleted meanwhile are dropped.
func (s *Store) AttemptRecord(ctx context.Context, results []*hookd.AttemptResult) error {
	var ids []int64
	for _, r := range results {
		if r.Outcome < hookd.OutcomeDelivered || r.Outcome > hookd.OutcomeFailed {
			return hookd.Errorf(hookd.EINVALID, "Unknown attempt outcome %d.", r.Outcome)
		}
		if r.Outcome == hookd.OutcomeRetry && r.NextAttemptAt.IsZero() {
			return hookd.Errorf(hookd.EINVALID, "A retry outcome needs the time of the next attempt.")
		}
		ids = append(ids, r.Attempt.DeliveryID)
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	headers := make([][2][]byte, len(results))
	for i, r := range results {
		var err error
		if headers[i][0], err = marshalHeaders(r.Attempt.RequestHeaders); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		if headers[i][1], err = marshalHeaders(r.Attempt.ResponseHeaders); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ds, err := lockForRecord(ctx, tx, ids)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueResults(b, ds, results, headers)
		// Each queued statement has its result read (and its error checked) by Close.
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return formatError("record attempts", err)
	}
	return nil
}

// queueResults queues the statements of AttemptRecord for deliveries ds, locked and read by
// lockForRecord, which it keeps up to date as it goes: two results of one batch may concern
// the same delivery, and then the second finds the first's state. Webhook updates come last,
// one per webhook.
func queueResults(b *pgx.Batch, ds map[int64]*recordedDelivery, results []*hookd.AttemptResult, headers [][2][]byte) {
	webhooks := map[int64]*webhookRecord{}
	for i, r := range results {
		d, ok := ds[r.Attempt.DeliveryID]
		if !ok {
			continue // deleted with its webhook while the attempt ran
		}
		d.number++
		a := &r.Attempt
		args := []any{a.DeliveryID, d.number, micro(a.StartedAt), int64(a.Duration), headers[i][0],
			a.RequestBody, a.Status, headers[i][1], a.ResponseBody, a.Error}
		if d.state != hookd.DeliveryStateInflight || d.token != r.ClaimToken {
			b.Queue(insertAttemptSQL, args...) // a stale claim: history only
			continue
		}
		var next *time.Time
		switch r.Outcome {
		case hookd.OutcomeDelivered:
			d.state = hookd.DeliveryStateDelivered
		case hookd.OutcomeRetry:
			d.state = hookd.DeliveryStateRetrying
			t := micro(r.NextAttemptAt)
			next = &t
		default:
			d.state = hookd.DeliveryStateFailed
		}
		end := micro(a.StartedAt.Add(a.Duration))
		b.Queue(recordAttemptSQL, append(args, string(d.state), next, end)...)

		w := webhooks[d.webhookID]
		if w == nil {
			w = &webhookRecord{}
			webhooks[d.webhookID] = w
		}
		if a.Status >= 200 && a.Status < 300 {
			w.successOn = &end
		} else {
			w.failureOn, w.failureContent = &end, a.Error
		}
		w.status = a.Status
		if r.DisableWebhook != "" {
			w.disable = r.DisableWebhook
		}
	}
	for _, id := range slices.Sorted(maps.Keys(webhooks)) {
		w := webhooks[id]
		b.Queue(recordWebhookSQL, id, w.successOn, w.failureOn, w.failureContent, w.status, w.disable)
	}
}

// lockForRecord locks what AttemptRecord changes and returns the deliveries of ids that still
// exist. Webhooks are locked before deliveries, each in id order: WebhookDelete locks a webhook
// before cascading to its deliveries, and the same order everywhere means no deadlock.
func lockForRecord(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]*recordedDelivery, error) {
	if _, err := tx.Exec(ctx, `SELECT w.id FROM webhooks w
		WHERE w.id IN (SELECT webhook_id FROM deliveries WHERE id = ANY($1))
		ORDER BY w.id FOR NO KEY UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("lock webhooks: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT d.id, d.webhook_id, d.state, d.claim_token FROM deliveries d
		WHERE d.id = ANY($1) ORDER BY d.id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock deliveries: %w", err)
	}
	ds := map[int64]*recordedDelivery{}
	var (
		id int64
		d  recordedDelivery
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &d.webhookID, &d.state, &d.token}, func() error {
		dd := d
		ds[id] = &dd
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock deliveries: %w", err)
	}
	// Under the delivery locks no one else can add attempts, so the numbers are stable.
	rows, err = tx.Query(ctx, `SELECT delivery_id, max(number) FROM attempts
		WHERE delivery_id = ANY($1) GROUP BY delivery_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("attempt numbers: %w", err)
	}
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		if d, ok := ds[id]; ok {
			d.number = n
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("attempt numbers: %w", err)
	}
	return ds, nil
}

// AttemptList returns the attempts of one delivery, first attempt first; none for a delivery
// that does not exist.
func (s *Store) AttemptList(ctx context.Context, deliveryID int64) ([]*hookd.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+attemptCols+` FROM attempts a
		WHERE a.delivery_id = $1 ORDER BY a.number, a.id`, deliveryID)
	if err != nil {
		return nil, formatError(fmt.Sprintf("list attempts of delivery %d", deliveryID), err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Attempt, error) {
		var sc attemptScan
		if err := r.Scan(sc.dest()...); err != nil {
			return nil, err
		}
		return sc.attempt()
	})
	if err != nil {
		return nil, formatError(fmt.Sprintf("list attempts of delivery %d", deliveryID), err)
	}
	return as, nil
}
