package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookd/hookd"
)

// attemptInsertQuery stores an attempt numbered after the delivery's previous ones, unless the
// delivery is gone (its webhook was deleted while the attempt ran): then no row comes back.
const attemptInsertQuery = `INSERT INTO attempts
	(delivery_id, number, started_at, duration_ns, request_headers, request_body, status,
	 response_headers, response_body, error)
	SELECT ?1, COALESCE((SELECT MAX(number) FROM attempts WHERE delivery_id = ?1), 0) + 1,
		?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
	WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?1)
	RETURNING id`

// deliveryRecordQuery applies an attempt to its delivery if the claim that made it still holds.
const deliveryRecordQuery = `UPDATE deliveries SET
	state = ?1, attempts = attempts + 1, status = ?2, delivered_on = ?3, last_error = ?4,
	last_attempt_id = ?5, next_attempt_at = COALESCE(?6, next_attempt_at), lease_until = NULL
	WHERE id = ?7 AND state = 'inflight' AND claim_token = ?8
	RETURNING webhook_id`

// webhookRecordQuery keeps the webhook's last status, last success or failure, and switches it
// off when the attempt asks to (?5 non-empty).
const webhookRecordQuery = `UPDATE webhooks SET
	last_status = ?1,
	last_success_on = CASE WHEN ?2 THEN ?3 ELSE last_success_on END,
	last_failure_on = CASE WHEN ?2 THEN last_failure_on ELSE ?3 END,
	last_failure_content = CASE WHEN ?2 THEN last_failure_content ELSE ?4 END,
	enabled = CASE WHEN ?5 <> '' THEN 0 ELSE enabled END,
	disabled_reason = CASE WHEN ?5 <> '' THEN ?5 ELSE disabled_reason END
	WHERE id = ?6`

// outcomeStates maps an attempt's outcome to its delivery's next state.
var outcomeStates = map[hookd.Outcome]hookd.DeliveryState{
	hookd.OutcomeDelivered: hookd.DeliveryStateDelivered,
	hookd.OutcomeRetry:     hookd.DeliveryStateRetrying,
	hookd.OutcomeFailed:    hookd.DeliveryStateFailed,
}

// AttemptRecord stores finished attempts in one transaction. Every attempt row is stored (but
// for deliveries deleted meanwhile); the delivery and its webhook change only where the
// result's claim token still holds the delivery. Attempt ID and Number are assigned here.
func (s *Store) AttemptRecord(ctx context.Context, results []*hookd.AttemptResult) error {
	for _, r := range results {
		if _, ok := outcomeStates[r.Outcome]; !ok {
			return hookd.Errorf(hookd.EINVALID, "Unknown attempt outcome %d.", r.Outcome)
		}
		if r.Outcome == hookd.OutcomeRetry && r.NextAttemptAt.IsZero() {
			return hookd.Errorf(hookd.EINVALID, "A retry outcome needs the time of the next attempt.")
		}
	}
	if len(results) == 0 {
		return nil
	}
	tx, sts, err := s.begin(ctx, attemptInsertQuery, deliveryRecordQuery, webhookRecordQuery)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	defer tx.Rollback()
	for _, r := range results {
		if err := recordAttempt(ctx, sts, r); err != nil {
			return fmt.Errorf("record attempt of delivery %d: %w", r.Attempt.DeliveryID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	return nil
}

// recordAttempt runs the three statements of one result inside AttemptRecord's transaction.
func recordAttempt(ctx context.Context, sts []*sql.Stmt, r *hookd.AttemptResult) error {
	a := &r.Attempt
	reqHeaders, err := headersValue(a.RequestHeaders)
	if err != nil {
		return err
	}
	respHeaders, err := headersValue(a.ResponseHeaders)
	if err != nil {
		return err
	}
	var attemptID int64
	err = sts[0].QueryRowContext(ctx, a.DeliveryID, micros(a.StartedAt), int64(a.Duration), reqHeaders,
		blob(a.RequestBody), a.Status, respHeaders, blob(a.ResponseBody), a.Error).Scan(&attemptID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the delivery was deleted with its webhook: nothing to record against
	} else if err != nil {
		return err
	}

	end := micros(a.StartedAt.Add(a.Duration))
	var next any
	if r.Outcome == hookd.OutcomeRetry {
		next = micros(r.NextAttemptAt)
	}
	var webhookID int64
	err = sts[1].QueryRowContext(ctx, string(outcomeStates[r.Outcome]), a.Status, end, a.Error,
		attemptID, next, a.DeliveryID, r.ClaimToken).Scan(&webhookID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // a stale claim: the attempt is kept as history, the delivery is not ours
	} else if err != nil {
		return err
	}

	ok := a.Status >= 200 && a.Status < 300
	_, err = sts[2].ExecContext(ctx, a.Status, boolInt(ok), end, a.Error, r.DisableWebhook, webhookID)
	return err
}

// AttemptList returns the attempts of one delivery, first attempt first; none for a delivery
// that does not exist.
func (s *Store) AttemptList(ctx context.Context, deliveryID int64) ([]*hookd.Attempt, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+attemptCols+` FROM attempts a
		WHERE a.delivery_id = ? ORDER BY a.number, a.id`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list attempts of delivery %d: %w", deliveryID, err)
	}
	defer rows.Close()
	as := []*hookd.Attempt{}
	for rows.Next() {
		var a hookd.Attempt
		if err := rows.Scan(attemptDest(&a)...); err != nil {
			return nil, fmt.Errorf("list attempts of delivery %d: %w", deliveryID, err)
		}
		as = append(as, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts of delivery %d: %w", deliveryID, err)
	}
	return as, nil
}
