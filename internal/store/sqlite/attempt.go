package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hookd/hookd"
)

// AttemptRecord writes a batch with a few set-based statements instead of three statements per
// attempt: the results go in chunks (recordChunks) of multi-row VALUES, one INSERT of the
// attempts and one UPDATE of the deliveries per chunk, then one UPDATE per webhook with what
// the batch did to it, folded in result order.

// recordChunks are the chunk sizes a batch is cut into, largest first; each size is one pair
// of prepared statements.
var recordChunks = []int{64, 16, 4, 1}

// attemptChunkQuery stores n attempts, each numbered after its delivery's recorded attempts
// (deliveries.attempts + 1). That number is taken only when an attempt of an expired claim
// holds it (ON CONFLICT skips the row); those rows, and rows whose delivery is gone, come back
// to attemptInsertQuery one by one.
func attemptChunkQuery(n int) string {
	return `INSERT INTO attempts
	(delivery_id, number, started_at, duration_ns, request_headers, request_body, status,
	 response_headers, response_body, error)
	SELECT v.column1, d.attempts + 1, v.column2, v.column3, v.column4, v.column5, v.column6,
		v.column7, v.column8, v.column9
	FROM (VALUES ` + placeholders(n, 9) + `) v JOIN deliveries d ON d.id = v.column1
	WHERE true
	ON CONFLICT (delivery_id, number) DO NOTHING
	RETURNING delivery_id, id`
}

// attemptInsertQuery stores one attempt numbered after the delivery's previous ones, unless
// the delivery is gone (its webhook was deleted while the attempt ran): then no row comes back.
const attemptInsertQuery = `INSERT INTO attempts
	(delivery_id, number, started_at, duration_ns, request_headers, request_body, status,
	 response_headers, response_body, error)
	SELECT ?1, COALESCE((SELECT MAX(number) FROM attempts WHERE delivery_id = ?1), 0) + 1,
		?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
	WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?1)
	RETURNING id`

// deliveryChunkQuery applies n attempts to their deliveries where the claim that made each
// still holds (column8 is the claim token).
func deliveryChunkQuery(n int) string {
	return `UPDATE deliveries SET
	state = v.column2, attempts = attempts + 1, status = v.column3, delivered_on = v.column4,
	last_error = v.column5, last_attempt_id = v.column6,
	next_attempt_at = COALESCE(v.column7, next_attempt_at), lease_until = NULL
	FROM (VALUES ` + placeholders(n, 8) + `) v
	WHERE deliveries.id = v.column1 AND deliveries.state = 'inflight' AND deliveries.claim_token = v.column8
	RETURNING deliveries.id, deliveries.webhook_id`
}

// webhookRecordQuery applies what a batch did to one webhook: ?1 the last status, ?2 the end
// of the last success, ?3 and ?4 those of the last failure (NULL: none), ?5 the last reason
// to switch it off (empty keeps it on).
const webhookRecordQuery = `UPDATE webhooks SET
	last_status = ?1,
	last_success_on = COALESCE(?2, last_success_on),
	last_failure_on = COALESCE(?3, last_failure_on),
	last_failure_content = CASE WHEN ?3 IS NULL THEN last_failure_content ELSE ?4 END,
	enabled = CASE WHEN ?5 <> '' THEN 0 ELSE enabled END,
	disabled_reason = CASE WHEN ?5 <> '' THEN ?5 ELSE disabled_reason END
	WHERE id = ?6`

// placeholders returns n rows of k parameters for a VALUES list.
func placeholders(n, k int) string {
	row := "(" + strings.Repeat("?, ", k-1) + "?)"
	return strings.Repeat(row+", ", n-1) + row
}

// outcomeStates maps an attempt's outcome to its delivery's next state.
var outcomeStates = map[hookd.Outcome]hookd.DeliveryState{
	hookd.OutcomeDelivered: hookd.DeliveryStateDelivered,
	hookd.OutcomeRetry:     hookd.DeliveryStateRetrying,
	hookd.OutcomeFailed:    hookd.DeliveryStateFailed,
}

// recordQueries lists every statement AttemptRecord prepares: per chunk size an attempt
// insert and a delivery update, then the single insert and the webhook update.
var recordQueries = func() []string {
	var qs []string
	for _, n := range recordChunks {
		qs = append(qs, attemptChunkQuery(n), deliveryChunkQuery(n))
	}
	return append(qs, attemptInsertQuery, webhookRecordQuery)
}()

// AttemptRecord stores finished attempts in one transaction. Every attempt row is stored (but
// for deliveries deleted meanwhile); the delivery and its webhook change only where the
// result's claim token still holds the delivery, as if the results were applied one after the
// other. Attempt ID and Number are assigned here.
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
	rec, err := newRecording(results)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	tx, sts, err := s.begin(ctx, recordQueries...)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	defer tx.Rollback()
	rec.stmts = sts
	for _, round := range rec.rounds {
		if err := rec.insertAttempts(ctx, round); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		if err := rec.moveDeliveries(ctx, round); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	if err := rec.updateWebhooks(ctx); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	return nil
}

// recording is one AttemptRecord batch on its way to the database.
type recording struct {
	stmts   []*sql.Stmt // recordQueries, bound to the transaction
	results []*hookd.AttemptResult
	args    [][]any // per result: its attemptChunkQuery row
	// rounds hold result indexes: round k has the k-th result of each delivery, so that a
	// statement never sees one delivery twice and a round sees what the one before did.
	rounds    [][]int
	attemptID []int64 // per result: the stored attempt, 0 when its delivery is gone
	webhookID []int64 // per result: the delivery's webhook when the result moved it, else 0
}

func newRecording(results []*hookd.AttemptResult) (*recording, error) {
	rec := &recording{
		results:   results,
		args:      make([][]any, len(results)),
		attemptID: make([]int64, len(results)),
		webhookID: make([]int64, len(results)),
	}
	seen := make(map[int64]int, len(results))
	for i, r := range results {
		a := &r.Attempt
		k := seen[a.DeliveryID]
		seen[a.DeliveryID]++
		if k == len(rec.rounds) {
			rec.rounds = append(rec.rounds, nil)
		}
		rec.rounds[k] = append(rec.rounds[k], i)
		reqHeaders, err := headersValue(a.RequestHeaders)
		if err != nil {
			return nil, err
		}
		respHeaders, err := headersValue(a.ResponseHeaders)
		if err != nil {
			return nil, err
		}
		rec.args[i] = []any{a.DeliveryID, micros(a.StartedAt), int64(a.Duration), reqHeaders,
			blob(a.RequestBody), a.Status, respHeaders, blob(a.ResponseBody), a.Error}
	}
	return rec, nil
}

// chunked cuts idx into recordChunks sizes and calls f with each part and the position of its
// size in recordChunks.
func chunked(idx []int, f func(size int, part []int) error) error {
	for len(idx) > 0 {
		for j, n := range recordChunks {
			if len(idx) >= n {
				if err := f(j, idx[:n]); err != nil {
					return err
				}
				idx = idx[n:]
				break
			}
		}
	}
	return nil
}

// insertAttempts stores the attempts of one round and notes their ids.
func (rec *recording) insertAttempts(ctx context.Context, round []int) error {
	return chunked(round, func(size int, part []int) error {
		args := make([]any, 0, 9*len(part))
		for _, i := range part {
			args = append(args, rec.args[i]...)
		}
		stored, err := scanPairs(rec.stmts[2*size].QueryContext(ctx, args...)) // delivery id → attempt id
		if err != nil {
			return err
		}
		for _, i := range part {
			if id, ok := stored[rec.results[i].Attempt.DeliveryID]; ok {
				rec.attemptID[i] = id
				continue
			}
			// Its number was taken (an expired claim's attempt) or its delivery is gone.
			err := rec.stmts[len(rec.stmts)-2].QueryRowContext(ctx, rec.args[i]...).Scan(&rec.attemptID[i])
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return nil
	})
}

// moveDeliveries applies the stored attempts of one round to their deliveries where the
// claim still holds, and notes the webhooks of those it moved.
func (rec *recording) moveDeliveries(ctx context.Context, round []int) error {
	var stored []int
	for _, i := range round {
		if rec.attemptID[i] != 0 {
			stored = append(stored, i)
		}
	}
	return chunked(stored, func(size int, part []int) error {
		args := make([]any, 0, 8*len(part))
		for _, i := range part {
			r := rec.results[i]
			a := &r.Attempt
			var next any
			if r.Outcome == hookd.OutcomeRetry {
				next = micros(r.NextAttemptAt)
			}
			args = append(args, a.DeliveryID, string(outcomeStates[r.Outcome]), a.Status,
				micros(a.StartedAt.Add(a.Duration)), a.Error, rec.attemptID[i], next, r.ClaimToken)
		}
		moved, err := scanPairs(rec.stmts[2*size+1].QueryContext(ctx, args...)) // delivery id → webhook id
		if err != nil {
			return err
		}
		for _, i := range part {
			rec.webhookID[i] = moved[rec.results[i].Attempt.DeliveryID]
		}
		return nil
	})
}

// scanPairs reads rows of two integers into a map from the first to the second.
func scanPairs(rows *sql.Rows, err error) (map[int64]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var k, v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// webhookFold is what the results of a batch that moved their deliveries do to one webhook,
// applied in order.
type webhookFold struct {
	id                   int64
	status               int
	successOn, failureOn any // end of the last success, failure; nil when none
	failureContent       string
	disable              string // the last reason to switch it off
}

// updateWebhooks writes each webhook's fold.
func (rec *recording) updateWebhooks(ctx context.Context) error {
	var folds []*webhookFold
	byID := map[int64]*webhookFold{}
	for i, r := range rec.results {
		id := rec.webhookID[i]
		if id == 0 {
			continue
		}
		f := byID[id]
		if f == nil {
			f = &webhookFold{id: id}
			byID[id] = f
			folds = append(folds, f)
		}
		a := &r.Attempt
		end := micros(a.StartedAt.Add(a.Duration))
		f.status = a.Status
		if a.Status >= 200 && a.Status < 300 {
			f.successOn = end
		} else {
			f.failureOn, f.failureContent = end, a.Error
		}
		if r.DisableWebhook != "" {
			f.disable = r.DisableWebhook
		}
	}
	for _, f := range folds {
		if _, err := rec.stmts[len(rec.stmts)-1].ExecContext(ctx, f.status, f.successOn, f.failureOn,
			f.failureContent, f.disable, f.id); err != nil {
			return err
		}
	}
	return nil
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
