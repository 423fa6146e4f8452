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
	extra     int // attempts of the batch stored without moving it (stale claims)
}

// recordSQL stores a batch of attempts and what they do, in one statement. $1..$10 are the
// attempts, in the order of the results; $11..$18 one row per delivery: the number of the
// attempt that moves it on (0: none, only stale attempts), its new state, next attempt time
// (NULL keeps it), status, end and error, and how many stale attempts were stored for it;
// $19..$24 one row per webhook: last success, last failure and its content, last status, and
// the reason to switch it off (” keeps it on). The moving attempt's id is found by delivery and
// number.
const recordSQL = `WITH a AS (
		INSERT INTO attempts (delivery_id, number, started_at, duration_ns, request_headers, request_body,
			status, response_headers, response_body, error)
		SELECT r.delivery_id, r.number, r.started_at, r.duration_ns, r.request_headers::jsonb, r.request_body,
			r.status, r.response_headers::jsonb, r.response_body, r.error
		FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[], $4::bigint[], $5::text[], $6::bytea[],
			$7::integer[], $8::text[], $9::bytea[], $10::text[]) WITH ORDINALITY
			AS r(delivery_id, number, started_at, duration_ns, request_headers, request_body,
				status, response_headers, response_body, error, ord)
		ORDER BY r.ord
		RETURNING id, delivery_id, number
	), m AS (
		SELECT * FROM unnest($11::bigint[], $12::integer[], $13::text[], $14::timestamptz[], $15::integer[],
			$16::timestamptz[], $17::text[], $18::integer[])
			AS m(id, number, state, next_attempt_at, status, ended, error, extra)
	), moved AS (
		UPDATE deliveries d SET
			state = CASE WHEN m.number > 0 THEN m.state ELSE d.state END,
			next_attempt_at = CASE WHEN m.number > 0 THEN coalesce(m.next_attempt_at, d.next_attempt_at)
				ELSE d.next_attempt_at END,
			lease_until = CASE WHEN m.number > 0 THEN NULL ELSE d.lease_until END,
			attempts = d.attempts + CASE WHEN m.number > 0 THEN 1 ELSE 0 END,
			status = CASE WHEN m.number > 0 THEN m.status ELSE d.status END,
			delivered_on = CASE WHEN m.number > 0 THEN m.ended ELSE d.delivered_on END,
			last_error = CASE WHEN m.number > 0 THEN m.error ELSE d.last_error END,
			last_attempt_id = CASE WHEN m.number > 0 THEN a.id ELSE d.last_attempt_id END,
			extra_attempts = d.extra_attempts + m.extra
		FROM m LEFT JOIN a ON a.delivery_id = m.id AND a.number = m.number
		WHERE d.id = m.id
	)
	UPDATE webhooks w SET
		last_success_on = coalesce(r.success_on, w.last_success_on),
		last_failure_on = coalesce(r.failure_on, w.last_failure_on),
		last_failure_content = CASE WHEN r.failure_on IS NULL THEN w.last_failure_content ELSE r.failure_content END,
		last_status = r.status,
		enabled = CASE WHEN r.disable = '' THEN w.enabled ELSE false END,
		disabled_reason = CASE WHEN r.disable = '' THEN w.disabled_reason ELSE r.disable END
	FROM unnest($19::bigint[], $20::timestamptz[], $21::timestamptz[], $22::text[], $23::integer[], $24::text[])
		AS r(id, success_on, failure_on, failure_content, status, disable)
	WHERE w.id = r.id`

// webhookRecord is what one batch of results does to one webhook: the results applied one
// after the other, folded into one row of recordSQL.
type webhookRecord struct {
	successOn, failureOn *time.Time
	failureContent       string
	status               int
	disable              string
}

// AttemptRecord stores finished attempts in one transaction of two round trips: it locks what
// it changes, then writes every attempt, delivery and webhook in one set-based statement. Every attempt whose
// delivery still exists is stored, numbered after the delivery's previous attempts; only
// those whose claim token still holds the delivery move it on and update its webhook. Results
// for deliveries deleted meanwhile are dropped.
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
	err := s.inPipedTx(ctx, func(conn *pgx.Conn) error {
		ds, err := lockForRecord(ctx, conn, ids)
		if err != nil {
			return err
		}
		args, err := recordArgs(ds, results)
		if err != nil || args == nil {
			return err // nothing to write: inPipedTx rolls back
		}
		b := &pgx.Batch{}
		b.Queue(recordSQL, args...)
		return commitBatch(ctx, conn, b)
	})
	if err != nil {
		return formatError("record attempts", err)
	}
	return nil
}

// recordRows are the arrays of recordSQL's parameters.
type recordRows struct {
	// attempts
	deliveryID, durationNS []int64
	number, status         []int
	startedAt              []time.Time
	reqHeaders, respHeader []*string
	reqBody, respBody      [][]byte
	errText                []string
	// deliveries
	dID                      []int64
	dNumber, dStatus, dExtra []int
	dState, dError           []string
	dNext                    []*time.Time
	dEnded                   []time.Time
	// webhooks
	wID                       []int64
	wSuccess, wFailure        []*time.Time
	wFailureContent, wDisable []string
	wStatus                   []int
}

// recordArgs applies results, in order, to the deliveries ds that lockForRecord locked and
// read, and returns recordSQL's arguments; nil when no result concerns a delivery that still
// exists. Two results of a batch may concern one delivery: the second finds the first's
// state.
func recordArgs(ds map[int64]*recordedDelivery, results []*hookd.AttemptResult) ([]any, error) {
	var (
		rows     recordRows
		webhooks = map[int64]*webhookRecord{}
		moves    = map[int64]int{} // delivery id → its row in the d* arrays
	)
	for _, r := range results {
		d, ok := ds[r.Attempt.DeliveryID]
		if !ok {
			continue // deleted with its webhook while the attempt ran
		}
		d.number++
		if err := rows.addAttempt(&r.Attempt, d.number); err != nil {
			return nil, err
		}
		if d.state != hookd.DeliveryStateInflight || d.token != r.ClaimToken {
			d.extra++ // a stale claim: history only
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
		a := &r.Attempt
		end := micro(a.StartedAt.Add(a.Duration))
		moves[a.DeliveryID] = len(rows.dID)
		rows.addDelivery(a.DeliveryID, d.number, string(d.state), next, a.Status, end, a.Error, 0)
		w := webhooks[d.webhookID]
		if w == nil {
			w = &webhookRecord{}
			webhooks[d.webhookID] = w
		}
		w.fold(r, end)
	}
	if len(rows.deliveryID) == 0 {
		return nil, nil
	}
	for _, id := range slices.Sorted(maps.Keys(ds)) {
		d := ds[id]
		if d.extra == 0 {
			continue
		}
		if i, ok := moves[id]; ok {
			rows.dExtra[i] = d.extra
			continue
		}
		rows.addDelivery(id, 0, "", nil, 0, time.Time{}, "", d.extra)
	}
	rows.addWebhooks(webhooks)
	return []any{rows.deliveryID, rows.number, rows.startedAt, rows.durationNS, rows.reqHeaders, rows.reqBody,
		rows.status, rows.respHeader, rows.respBody, rows.errText,
		rows.dID, rows.dNumber, rows.dState, rows.dNext, rows.dStatus, rows.dEnded, rows.dError, rows.dExtra,
		rows.wID, rows.wSuccess, rows.wFailure, rows.wFailureContent, rows.wStatus, rows.wDisable}, nil
}

// addDelivery appends one delivery row: n is the number of the attempt that moves it on to
// state (0: none), extra the stale attempts stored for it.
func (rows *recordRows) addDelivery(id int64, n int, state string, next *time.Time, status int, ended time.Time, errText string, extra int) {
	rows.dID = append(rows.dID, id)
	rows.dNumber = append(rows.dNumber, n)
	rows.dState = append(rows.dState, state)
	rows.dNext = append(rows.dNext, next)
	rows.dStatus = append(rows.dStatus, status)
	rows.dEnded = append(rows.dEnded, ended)
	rows.dError = append(rows.dError, errText)
	rows.dExtra = append(rows.dExtra, extra)
}

// addWebhooks appends the webhook rows, in id order.
func (rows *recordRows) addWebhooks(webhooks map[int64]*webhookRecord) {
	for _, id := range slices.Sorted(maps.Keys(webhooks)) {
		w := webhooks[id]
		rows.wID = append(rows.wID, id)
		rows.wSuccess = append(rows.wSuccess, w.successOn)
		rows.wFailure = append(rows.wFailure, w.failureOn)
		rows.wFailureContent = append(rows.wFailureContent, w.failureContent)
		rows.wStatus = append(rows.wStatus, w.status)
		rows.wDisable = append(rows.wDisable, w.disable)
	}
}

// fold applies result r, whose attempt ended at end, to the webhook's record.
func (w *webhookRecord) fold(r *hookd.AttemptResult, end time.Time) {
	if s := r.Attempt.Status; s >= 200 && s < 300 {
		w.successOn = &end
	} else {
		w.failureOn, w.failureContent = &end, r.Attempt.Error
	}
	w.status = r.Attempt.Status
	if r.DisableWebhook != "" {
		w.disable = r.DisableWebhook
	}
}

// addAttempt appends attempt a, numbered n, to the attempt arrays.
func (rows *recordRows) addAttempt(a *hookd.Attempt, n int) error {
	req, err := marshalHeaders(a.RequestHeaders)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	resp, err := marshalHeaders(a.ResponseHeaders)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	rows.deliveryID = append(rows.deliveryID, a.DeliveryID)
	rows.number = append(rows.number, n)
	rows.startedAt = append(rows.startedAt, micro(a.StartedAt))
	rows.durationNS = append(rows.durationNS, int64(a.Duration))
	rows.reqHeaders = append(rows.reqHeaders, textOrNil(req))
	rows.reqBody = append(rows.reqBody, a.RequestBody)
	rows.status = append(rows.status, a.Status)
	rows.respHeader = append(rows.respHeader, textOrNil(resp))
	rows.respBody = append(rows.respBody, a.ResponseBody)
	rows.errText = append(rows.errText, a.Error)
	return nil
}

// textOrNil is b as text, nil (NULL) when b is nil.
func textOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// lockForRecord begins the transaction, locks what AttemptRecord changes and returns the
// deliveries of ids that still exist, with the number of their newest attempt (attempts that
// moved them plus stale ones: no read of the attempts table), in one round trip. Webhooks are
// locked before deliveries, each in id order: WebhookDelete locks a webhook before cascading
// to its deliveries, and the same order everywhere means no deadlock.
func lockForRecord(ctx context.Context, conn *pgx.Conn, ids []int64) (map[int64]*recordedDelivery, error) {
	b := beginBatch()
	b.Queue(`SELECT w.id FROM webhooks w
		WHERE w.id IN (SELECT webhook_id FROM deliveries WHERE id = ANY($1))
		ORDER BY w.id FOR NO KEY UPDATE`, ids)
	b.Queue(`SELECT d.id, d.webhook_id, d.state, d.claim_token, d.attempts + d.extra_attempts
		FROM deliveries d WHERE d.id = ANY($1) ORDER BY d.id FOR UPDATE`, ids)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock webhooks: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("lock deliveries: %w", err)
	}
	ds := map[int64]*recordedDelivery{}
	var (
		id int64
		d  recordedDelivery
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &d.webhookID, &d.state, &d.token, &d.number}, func() error {
		dd := d
		ds[id] = &dd
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock deliveries: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("lock deliveries: %w", err)
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
