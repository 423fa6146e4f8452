package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const (
	deliveryCols = `d.id, d.webhook_id, d.event_id, d.trigger, d.state, d.created_by, d.created_on,
	d.next_attempt_at, d.lease_until, d.attempts, d.retry_of, d.status, d.delivered_on, d.last_error,
	d.ordering_key`
	eventCols   = `e.id, e.trigger, e.payload, e.target_id, e.ordering_key, e.created_by, e.created_on`
	attemptCols = `a.id, a.delivery_id, a.number, a.started_at, a.duration_ns, a.request_headers,
	a.request_body, a.status, a.response_headers, a.response_body, a.error`

	// deliveryFrom joins what DeliveryGet and DeliveryList return: the event, the webhook's
	// current name and the attempt the delivery's view comes from.
	deliveryFrom = ` FROM deliveries d
	JOIN webhooks w ON w.id = d.webhook_id
	JOIN events e ON e.id = d.event_id
	LEFT JOIN attempts a ON a.id = d.last_attempt_id`
	deliverySelect = `SELECT ` + deliveryCols + `, ` + eventCols + `, w.name, ` + attemptCols + deliveryFrom
)

// deliveryDest returns the scan destinations of deliveryCols; call fixDelivery after scanning.
func deliveryDest(d *hookd.Delivery) []any {
	return []any{&d.ID, &d.WebhookID, &d.EventID, &d.Trigger, &d.State, &d.CreatedBy, &d.CreatedOn,
		&d.NextAttemptAt, &d.LeaseUntil, &d.Attempts, &d.RetryOf, &d.Status, &d.DeliveredOn, &d.LastError,
		&d.OrderingKey}
}

// fixDelivery puts the times of a scanned delivery in UTC.
func fixDelivery(d *hookd.Delivery) {
	d.CreatedOn = utc(d.CreatedOn)
	d.NextAttemptAt = utc(d.NextAttemptAt)
	d.LeaseUntil = utcPtr(d.LeaseUntil)
	d.DeliveredOn = utcPtr(d.DeliveredOn)
}

// eventScan receives eventCols.
type eventScan struct {
	ev      hookd.Event
	payload []byte
}

func (s *eventScan) dest() []any {
	return []any{&s.ev.ID, &s.ev.Trigger, &s.payload, &s.ev.TargetID, &s.ev.OrderingKey, &s.ev.CreatedBy, &s.ev.CreatedOn}
}

func (s *eventScan) event() *hookd.Event {
	ev := s.ev
	ev.CreatedOn = utc(ev.CreatedOn)
	if s.payload != nil {
		ev.Payload = json.RawMessage(s.payload)
	}
	return &ev
}

// attemptScan receives attemptCols, possibly all NULL from a LEFT JOIN.
type attemptScan struct {
	id, deliveryID, durationNS *int64
	number, status             *int
	startedAt                  *time.Time
	reqHeaders, respHeaders    []byte
	reqBody, respBody          []byte
	errText                    *string
}

func (s *attemptScan) dest() []any {
	return []any{&s.id, &s.deliveryID, &s.number, &s.startedAt, &s.durationNS, &s.reqHeaders,
		&s.reqBody, &s.status, &s.respHeaders, &s.respBody, &s.errText}
}

// attempt returns the scanned attempt, nil when the LEFT JOIN found none.
func (s *attemptScan) attempt() (*hookd.Attempt, error) {
	if s.id == nil {
		return nil, nil
	}
	a := &hookd.Attempt{
		ID: *s.id, DeliveryID: *s.deliveryID, Number: *s.number, StartedAt: s.startedAt.UTC(),
		Duration: time.Duration(*s.durationNS), RequestBody: s.reqBody, Status: *s.status,
		ResponseBody: s.respBody, Error: *s.errText,
	}
	if err := unmarshalHeaders(s.reqHeaders, &a.RequestHeaders); err != nil {
		return nil, err
	}
	if err := unmarshalHeaders(s.respHeaders, &a.ResponseHeaders); err != nil {
		return nil, err
	}
	return a, nil
}

// marshalHeaders is the stored form of headers: NULL for a nil map, so that nil and empty
// maps both come back as they went in.
func marshalHeaders(h map[string][]string) ([]byte, error) {
	if h == nil {
		return nil, nil
	}
	return json.Marshal(h)
}

func unmarshalHeaders(b []byte, h *map[string][]string) error {
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, h); err != nil {
		return fmt.Errorf("decode headers: %w", err)
	}
	return nil
}

// scanDelivery reads one row of deliverySelect.
func scanDelivery(row pgx.Row) (*hookd.Delivery, error) {
	var (
		d  hookd.Delivery
		es eventScan
		as attemptScan
	)
	dest := append(deliveryDest(&d), es.dest()...)
	dest = append(dest, &d.WebhookName)
	dest = append(dest, as.dest()...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	fixDelivery(&d)
	d.Event = es.event()
	a, err := as.attempt()
	if err != nil {
		return nil, err
	}
	d.LastAttempt = a
	return &d, nil
}

// DeliveryGet returns one delivery with Event, WebhookName and LastAttempt set.
func (s *Store) DeliveryGet(ctx context.Context, id int64) (*hookd.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, deliverySelect+` WHERE d.id = $1`, id))
	if err != nil {
		return nil, formatError(fmt.Sprintf("get delivery %d", id), err)
	}
	return d, nil
}

// DeliveryList returns one page of deliveries matching f, newest first, and the number of
// matches before paging. The count and the page are read in one repeatable-read snapshot so
// that they agree. The number comes from the counters where they can answer (listing.go),
// else row by row.
func (s *Store) DeliveryList(ctx context.Context, f hookd.DeliveryFilter) ([]*hookd.Delivery, int64, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, hookd.Errorf(hookd.EINVALID, "Offset and limit must not be negative.")
	}
	ds := []*hookd.Delivery{}
	var total int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := customPlans(ctx, tx); err != nil {
				return err
			}
			plan, ok, err := planList(ctx, tx, f)
			if err != nil {
				return fmt.Errorf("count: %w", err)
			}
			if ok {
				total = plan.total
			} else if total, err = countRows(ctx, tx, f, ""); err != nil {
				return fmt.Errorf("count: %w", err)
			}
			if total == 0 || int64(f.Offset) >= total {
				return nil
			}
			where, args := deliveryWhere(f)
			ids, offset := plan.pageIDs(f, where, len(args))
			var limit any // NULL: no limit
			if f.Limit > 0 {
				limit = f.Limit
			}
			rows, err := tx.Query(ctx, deliveryPageQuery(ids), append(args, offset, limit)...)
			if err != nil {
				return err
			}
			ds, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanDelivery(r) })
			return err
		})
	if err != nil {
		return nil, 0, formatError("list deliveries", err)
	}
	return ds, total, nil
}

// customPlansSQL sets, for the rest of the transaction, what the listings need.
//
// pgx prepares and caches every statement, and after five executions PostgreSQL may switch a
// cached statement to a generic plan, made without the parameter values. For a listing that
// plan fits no filter: at 10 M deliveries the generic count of one webhook's deliveries
// walks the primary key over every row (1.2 s) where the plan for the value probes
// deliveries_webhook (tens of ms). force_custom_plan plans every execution for its values;
// the cost is a planning per listing, well under a millisecond.
//
// JIT compiles a plan whose estimated cost is high, which a count over millions of rows is:
// it added 22 ms to a 91 ms count, and a listing never runs long enough to win it back.
const customPlansSQL = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)`

// customPlans applies customPlansSQL to tx.
func customPlans(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, customPlansSQL); err != nil {
		return fmt.Errorf("plan settings: %w", err)
	}
	return nil
}

// deliveryPageQuery selects the page's ids first (ids, a query of d.id newest first, on
// deliveries and their indexes), then joins the rest for those ids only: an OFFSET over the
// joined view would build and drop every skipped row's event, webhook and attempt.
func deliveryPageQuery(ids string) string {
	return `SELECT ` + deliveryCols + `, ` + eventCols + `, w.name, ` + attemptCols + `
	FROM (` + ids + `) p
	JOIN deliveries d ON d.id = p.id
	JOIN webhooks w ON w.id = d.webhook_id
	JOIN events e ON e.id = d.event_id
	LEFT JOIN attempts a ON a.id = d.last_attempt_id
	ORDER BY d.id DESC`
}

// deliveryWhere turns f into a WHERE condition over deliveries d joined to webhooks w, and its
// arguments ($1...).
func deliveryWhere(f hookd.DeliveryFilter) (string, []any) {
	var (
		conds = []string{"true"}
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.DeliveryFrom != nil {
		add("d.delivered_on >= $?", micro(*f.DeliveryFrom))
	}
	if f.DeliveryTo != nil {
		add("d.delivered_on <= $?", micro(*f.DeliveryTo))
	}
	if f.HookURI != nil {
		add("w.uri = $?", *f.HookURI)
	}
	if f.WebhookID != nil {
		add("d.webhook_id = $?", *f.WebhookID)
	}
	if f.DeliveryID != nil {
		add("d.id = $?", *f.DeliveryID)
	}
	if f.CreatedBy != nil {
		add("w.created_by = $?", *f.CreatedBy)
	}
	if f.Trigger != 0 {
		add("d.trigger = $?", int64(f.Trigger))
	}
	if f.MaxID != nil {
		add("d.id <= $?", *f.MaxID)
	}
	if f.GroupStatus != 0 {
		conds = append(conds, groupStatusSQL(f.GroupStatus))
	}
	return strings.Join(conds, " AND "), args
}

// groupStatusSQL is hookd.GroupStatus.Includes over d.status and d.attempts: the union of the
// selected classes. storetest checks that the two agree.
func groupStatusSQL(g hookd.GroupStatus) string {
	or := []string{"false"}
	if g&hookd.GroupStatusFailed != 0 {
		or = append(or, "(d.attempts > 0 AND (d.status < 200 OR d.status >= 300))")
	}
	classes := []struct {
		bit  hookd.GroupStatus
		cond string
	}{
		{hookd.GroupStatusNotSent, "d.status = 0"},
		{hookd.GroupStatus2xx, "(d.status >= 200 AND d.status < 300)"},
		{hookd.GroupStatus3xx, "(d.status >= 300 AND d.status < 400)"},
		{hookd.GroupStatus4xx, "(d.status >= 400 AND d.status < 500)"},
		{hookd.GroupStatus5xx, "d.status >= 500"},
	}
	docspace := false
	for _, c := range classes {
		if g&c.bit != 0 {
			or = append(or, c.cond)
			docspace = true
		}
	}
	if docspace {
		// Statuses below 200 other than 0 are dropped by none of DocSpace's rules.
		or = append(or, "(d.status <> 0 AND d.status < 200)")
	}
	return "(" + strings.Join(or, " OR ") + ")"
}
