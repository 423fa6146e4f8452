package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookd/hookd"
)

// DeliveryGet returns one delivery with Event, WebhookName and LastAttempt set.
func (s *Store) DeliveryGet(ctx context.Context, id int64) (*hookd.Delivery, error) {
	st, err := s.readStmt(ctx, `SELECT `+deliveryViewCols+deliveryViewFrom+` WHERE d.id = ?`)
	if err != nil {
		return nil, fmt.Errorf("get delivery %d: %w", id, err)
	}
	d, err := scanDeliveryView(st.QueryRowContext(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("get delivery %d: %w", id, formatError(err))
	}
	return d, nil
}

// deliveryWhere returns the WHERE clause and arguments of f, on the tables of deliveryViewFrom.
func deliveryWhere(f hookd.DeliveryFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.DeliveryFrom != nil {
		add(`d.delivered_on >= ?`, micros(*f.DeliveryFrom))
	}
	if f.DeliveryTo != nil {
		add(`d.delivered_on <= ?`, micros(*f.DeliveryTo))
	}
	if f.HookURI != nil {
		add(`w.uri = ?`, *f.HookURI)
	}
	if f.WebhookID != nil {
		add(`d.webhook_id = ?`, *f.WebhookID)
	}
	if f.DeliveryID != nil {
		add(`d.id = ?`, *f.DeliveryID)
	}
	if f.CreatedBy != nil {
		add(`w.created_by = ?`, *f.CreatedBy)
	}
	if f.Trigger != 0 {
		add(`d.trigger_id = ?`, int64(f.Trigger))
	}
	if f.MaxID != nil {
		add(`d.id <= ?`, *f.MaxID)
	}
	if f.GroupStatus != 0 {
		conds = append(conds, groupStatusSQL(f.GroupStatus))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// groupStatusSQL is hookd.GroupStatus.Includes written as a condition on d.status and
// d.attempts; storetest checks that the two agree. g must not be 0.
func groupStatusSQL(g hookd.GroupStatus) string {
	var terms []string
	if g&hookd.GroupStatusFailed != 0 {
		terms = append(terms, `(d.attempts > 0 AND (d.status < 200 OR d.status >= 300))`)
	}
	classes := []struct {
		bit  hookd.GroupStatus
		cond string
	}{
		{hookd.GroupStatusNotSent, `d.status = 0`},
		{hookd.GroupStatus2xx, `d.status BETWEEN 200 AND 299`},
		{hookd.GroupStatus3xx, `d.status BETWEEN 300 AND 399`},
		{hookd.GroupStatus4xx, `d.status BETWEEN 400 AND 499`},
		{hookd.GroupStatus5xx, `d.status >= 500`},
	}
	hasClass := false
	for _, c := range classes {
		if g&c.bit != 0 {
			terms = append(terms, c.cond)
			hasClass = true
		}
	}
	if hasClass {
		// DocSpace drops only the classes whose bit is missing, so statuses outside every
		// class (1..199, negative) stay whenever some class bit is set.
		terms = append(terms, `(d.status < 200 AND d.status <> 0)`)
	}
	if len(terms) == 0 {
		return `0`
	}
	return `(` + strings.Join(terms, ` OR `) + `)`
}

// DeliveryList returns one page of deliveries matching f, newest first, and the number of
// matches before paging, read in one snapshot. The number comes from the counters where they
// can answer (listing.go), else row by row.
func (s *Store) DeliveryList(ctx context.Context, f hookd.DeliveryFilter) ([]*hookd.Delivery, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries: %w", err)
	}
	defer tx.Rollback()
	plan, ok, err := planList(ctx, tx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("count deliveries: %w", err)
	}
	var total int64
	if ok {
		total = plan.total
	} else if total, err = countRows(ctx, tx, f, ""); err != nil {
		return nil, 0, fmt.Errorf("count deliveries: %w", err)
	} else {
		plan = nil
	}
	limit := int64(f.Limit)
	if limit == 0 {
		limit = -1 // SQLite: no limit
	}
	ds := []*hookd.Delivery{}
	if total == 0 || int64(f.Offset) >= total {
		return ds, total, nil
	}
	ids, args := pageIDs(f, plan, limit)
	rows, err := tx.QueryContext(ctx, deliveryPageQuery(ids), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDeliveryView(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list deliveries: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, total, nil
}

// deliveryPageQuery selects the page's ids first (pageIDs, on deliveries and the indexes
// alone), then joins the view for those ids only: an OFFSET over the joined view would build
// and drop every skipped row's event, webhook and attempt.
func deliveryPageQuery(ids string) string {
	return `SELECT ` + deliveryViewCols + `
	FROM (` + ids + `) p
	JOIN deliveries d ON d.id = p.id
	JOIN events e ON e.id = d.event_id
	JOIN webhooks w ON w.id = d.webhook_id
	LEFT JOIN attempts a ON a.id = d.last_attempt_id
	ORDER BY d.id DESC`
}

// idsJSON encodes ids for json_each, which lets one prepared statement take a list.
func idsJSON(ids []int64) string {
	b, _ := json.Marshal(ids) // []int64 always encodes
	return string(b)
}

// retryInsertSQL creates, for each delivery id of the JSON array ?1 in order, a new delivery
// due at ?3 by user ?2 pointing at it, skipping missing ids and, when ?4 is not NULL, those of
// webhooks ?4 did not create. As at publish, the new delivery is held while its webhook is
// paused and carries the event's ordering key when the webhook is ordered (now). Manual
// retries and replay steps share it; each appends its RETURNING.
const retryInsertSQL = `INSERT INTO deliveries
	(webhook_id, event_id, trigger_id, state, created_by, created_on, next_attempt_at, retry_of, ordering_key)
	SELECT d.webhook_id, d.event_id, d.trigger_id, ` + newDeliveryState + `, ?2, ?3, ?3, d.id,
		CASE WHEN w.ordered THEN e.ordering_key ELSE '' END
	FROM json_each(?1) j
	JOIN deliveries d ON d.id = j.value
	JOIN webhooks w ON w.id = d.webhook_id
	JOIN events e ON e.id = d.event_id
	WHERE ?4 IS NULL OR w.created_by = ?4
	ORDER BY j.key`

const deliveryRetryQuery = retryInsertSQL + ` RETURNING id`

// DeliveryRetry creates, for each id in order (duplicates once per occurrence), a new pending
// (or held) delivery due now pointing at it with RetryOf, in one statement. Missing ids and ids of
// webhooks p.WebhookCreatedBy excludes are skipped.
func (s *Store) DeliveryRetry(ctx context.Context, p *hookd.DeliveryRetryParams) ([]*hookd.Delivery, error) {
	if len(p.IDs) == 0 {
		return []*hookd.Delivery{}, nil
	}
	var creator any
	if p.WebhookCreatedBy != nil {
		creator = *p.WebhookCreatedBy
	}
	tx, sts, err := s.begin(ctx, deliveryRetryQuery, deliveriesByIDQuery)
	if err != nil {
		return nil, fmt.Errorf("retry deliveries: %w", err)
	}
	defer tx.Rollback()
	ids, err := queryIDs(ctx, sts[0], idsJSON(p.IDs), p.CreatedBy, micros(s.now()), creator)
	if err != nil {
		return nil, fmt.Errorf("retry deliveries: %w", err)
	}
	ds, err := deliveriesByID(ctx, sts[1], ids)
	if err != nil {
		return nil, fmt.Errorf("retry deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("retry deliveries: %w", err)
	}
	return ds, nil
}
