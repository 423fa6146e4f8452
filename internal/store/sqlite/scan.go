package sqlite

import (
	"encoding/json"
	"fmt"

	"github.com/hookd/hookd"
)

// deliveryCols and deliveryDest read a delivery row (alias d) with its event (alias e).
const deliveryCols = `d.id, d.webhook_id, d.event_id, d.trigger_id, d.state, d.created_by, d.created_on,
	d.next_attempt_at, d.lease_until, d.attempts, d.retry_of, d.status, d.delivered_on, d.last_error,
	d.ordering_key, e.id, e.trigger_id, e.payload, e.target_id, e.ordering_key, e.created_by, e.created_on`

func deliveryDest(d *hookd.Delivery) []any {
	d.Event = &hookd.Event{}
	e := d.Event
	return []any{&d.ID, &d.WebhookID, &d.EventID, &d.Trigger, &d.State, &d.CreatedBy, timeCol{&d.CreatedOn},
		timeCol{&d.NextAttemptAt}, nullTimeCol{&d.LeaseUntil}, &d.Attempts, &d.RetryOf, &d.Status,
		nullTimeCol{&d.DeliveredOn}, &d.LastError,
		&d.OrderingKey, &e.ID, &e.Trigger, (*[]byte)(&e.Payload), &e.TargetID, &e.OrderingKey, &e.CreatedBy,
		timeCol{&e.CreatedOn}}
}

// attemptCols reads an attempt (alias a); the COALESCEs let it be the right side of a LEFT
// JOIN, id 0 meaning no attempt.
const attemptCols = `COALESCE(a.id, 0), COALESCE(a.delivery_id, 0), COALESCE(a.number, 0),
	COALESCE(a.started_at, 0), COALESCE(a.duration_ns, 0), a.request_headers, COALESCE(a.request_body, x''),
	COALESCE(a.status, 0), a.response_headers, COALESCE(a.response_body, x''), COALESCE(a.error, '')`

func attemptDest(a *hookd.Attempt) []any {
	return []any{&a.ID, &a.DeliveryID, &a.Number, timeCol{&a.StartedAt}, (*int64)(&a.Duration),
		headersCol{&a.RequestHeaders}, &a.RequestBody, &a.Status, headersCol{&a.ResponseHeaders},
		&a.ResponseBody, &a.Error}
}

// deliveryView is a delivery as listed: with event, webhook name and last attempt.
const deliveryViewFrom = ` FROM deliveries d
	JOIN events e ON e.id = d.event_id
	JOIN webhooks w ON w.id = d.webhook_id
	LEFT JOIN attempts a ON a.id = d.last_attempt_id`

const deliveryViewCols = deliveryCols + `, w.name, ` + attemptCols

func scanDeliveryView(sc interface{ Scan(...any) error }) (*hookd.Delivery, error) {
	var d hookd.Delivery
	var a hookd.Attempt
	dest := append(deliveryDest(&d), &d.WebhookName)
	dest = append(dest, attemptDest(&a)...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if a.ID != 0 {
		d.LastAttempt = &a
	}
	return &d, nil
}

// headersCol scans stored JSON headers; NULL is a nil map.
type headersCol struct{ h *map[string][]string }

// Scan implements sql.Scanner.
func (c headersCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.h = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan headers: got %T, want text", src)
	}
	var h map[string][]string
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("scan headers: %w", err)
	}
	*c.h = h
	return nil
}

// headersValue is the stored form of headers: JSON text, NULL for a nil map.
func headersValue(h map[string][]string) (any, error) {
	if h == nil {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode headers: %w", err)
	}
	return string(b), nil
}

// blob keeps a nil byte slice from binding as NULL in a NOT NULL column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
