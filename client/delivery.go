package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const (
	pathLog        = "/api/2.0/settings/webhooks/log"
	pathRetryBatch = "/api/2.0/settings/webhook/retry"
	pathDeliveries = "/api/2.0/webhooks/deliveries"
)

// Delivery is one event for one webhook (DocSpace WebhooksLogDto), with hookd's extra fields
// when the server is hookd.
type Delivery struct {
	ID              int64      `json:"id"`
	ConfigName      string     `json:"configName,omitempty"`
	Trigger         Trigger    `json:"trigger"`
	CreationTime    time.Time  `json:"creationTime"`
	RequestHeaders  string     `json:"requestHeaders,omitempty"`  // JSON text
	RequestPayload  string     `json:"requestPayload,omitempty"`  // JSON text
	ResponseHeaders string     `json:"responseHeaders,omitempty"` // JSON text
	ResponsePayload string     `json:"responsePayload,omitempty"`
	Status          int        `json:"status"`             // HTTP status of the last attempt, 0 = none
	Delivery        *time.Time `json:"delivery,omitempty"` // time of the last answer (DocSpace: successes only)

	// hookd only: absent (zero) when the server is DocSpace.
	ConfigID      int64      `json:"configId,omitempty"`
	State         string     `json:"state,omitempty"` // pending, inflight, delivered, retrying, failed
	Attempts      int        `json:"attempts,omitempty"`
	RetryOf       int64      `json:"retryOf,omitempty"` // the delivery this one manually retried
	NextAttemptOn *time.Time `json:"nextAttemptOn,omitempty"`
}

// UnmarshalJSON decodes a WebhooksLogDto, accepting header and payload fields as JSON text or
// as JSON values, and the date-time forms of every DocSpace version.
func (d *Delivery) UnmarshalJSON(b []byte) error {
	type plain Delivery
	var v struct {
		*plain
		CreationTime    flexTime `json:"creationTime"`
		Delivery        flexTime `json:"delivery"`
		NextAttemptOn   flexTime `json:"nextAttemptOn"`
		RequestHeaders  flexText `json:"requestHeaders"`
		RequestPayload  flexText `json:"requestPayload"`
		ResponseHeaders flexText `json:"responseHeaders"`
		ResponsePayload flexText `json:"responsePayload"`
	}
	v.plain = (*plain)(d)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.CreationTime, d.Delivery, d.NextAttemptOn = v.CreationTime.t, v.Delivery.ptr(), v.NextAttemptOn.ptr()
	d.RequestHeaders, d.RequestPayload = string(v.RequestHeaders), string(v.RequestPayload)
	d.ResponseHeaders, d.ResponsePayload = string(v.ResponseHeaders), string(v.ResponsePayload)
	return nil
}

// DeliveryFilter selects deliveries of the log (spec §1.6). Zero fields do not filter.
type DeliveryFilter struct {
	DeliveryFrom time.Time   // deliveryFrom: answered at or after (undelivered rows excluded)
	DeliveryTo   time.Time   // deliveryTo: answered at or before
	HookURI      string      // hookUri: exact webhook URI
	ConfigID     int64       // configId: one webhook
	EventID      int64       // eventId: one delivery (log row) id
	GroupStatus  GroupStatus // groupStatus: status classes
	UserID       string      // userId: webhooks created by this user
	Trigger      Trigger     // trigger: one trigger
	// MaxID keeps deliveries with id <= MaxID (hookd only; DocSpace ignores it).
	MaxID      int64
	StartIndex int // rows to skip
	Count      int // page size, 1–100; 0 lets the server choose (100)
}

// query renders f as log query parameters.
func (f *DeliveryFilter) query() url.Values {
	q := url.Values{}
	setTime := func(k string, t time.Time) {
		if !t.IsZero() {
			q.Set(k, t.UTC().Format(time.RFC3339))
		}
	}
	setInt := func(k string, n int64) {
		if n != 0 {
			q.Set(k, strconv.FormatInt(n, 10))
		}
	}
	setTime("deliveryFrom", f.DeliveryFrom)
	setTime("deliveryTo", f.DeliveryTo)
	if f.HookURI != "" {
		q.Set("hookUri", f.HookURI)
	}
	setInt("configId", f.ConfigID)
	setInt("eventId", f.EventID)
	if f.GroupStatus != 0 {
		q.Set("groupStatus", f.GroupStatus.queryValue())
	}
	if f.UserID != "" {
		q.Set("userId", f.UserID)
	}
	setInt("trigger", int64(f.Trigger))
	setInt("maxId", f.MaxID)
	setInt("startIndex", int64(f.StartIndex))
	setInt("count", int64(f.Count))
	return q
}

// DeliveryPage is one page of the log, newest first.
type DeliveryPage struct {
	Deliveries []*Delivery
	// Total is the number of deliveries matching the filter before paging, -1 when the server
	// did not say.
	Total int64
}

// Deliveries returns one page of the log. DeliveryPager walks every page.
func (c *Client) Deliveries(ctx context.Context, f DeliveryFilter) (*DeliveryPage, error) {
	page := &DeliveryPage{Total: -1}
	env, err := c.do(ctx, request{method: http.MethodGet, path: pathLog, query: f.query(), retry: retryIdempote}, &page.Deliveries)
	if err != nil {
		return nil, err
	}
	if env.Total != nil {
		page.Total = *env.Total
	}
	return page, nil
}

// Delivery returns one delivery by id (the log's eventId filter); a missing id is a 404 *Error.
func (c *Client) Delivery(ctx context.Context, id int64) (*Delivery, error) {
	page, err := c.Deliveries(ctx, DeliveryFilter{EventID: id, Count: 1})
	if err != nil {
		return nil, err
	}
	for _, d := range page.Deliveries {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, &Error{Method: http.MethodGet, Path: pathLog, StatusCode: http.StatusNotFound,
		Message: "The record could not be found"}
}

// Retry re-sends delivery id as a new delivery, which it returns. A 429 is waited out and
// repeated: it means nothing was done.
func (c *Client) Retry(ctx context.Context, id int64) (*Delivery, error) {
	var d Delivery
	path := pathWebhook + "/" + strconv.FormatInt(id, 10) + "/retry"
	if _, err := c.do(ctx, request{method: http.MethodPut, path: path, retry: retryRateOnly}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// RetryBatch re-sends each delivery of ids as a new delivery and returns the new ones in
// order. Ids the server does not know, or that the key may not retry, are skipped silently,
// so the answer can be shorter than ids. Callers send at most 100 ids at a time.
func (c *Client) RetryBatch(ctx context.Context, ids []int64) ([]*Delivery, error) {
	if ids == nil {
		ids = []int64{}
	}
	var out []*Delivery
	body := struct {
		IDs []int64 `json:"ids"`
	}{ids}
	if _, err := c.do(ctx, request{method: http.MethodPut, path: pathRetryBatch, body: body, retry: retryRateOnly}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Attempt is one HTTP try of a delivery (hookd only).
type Attempt struct {
	ID              int64     `json:"id"`
	Number          int       `json:"number"`
	StartedOn       time.Time `json:"startedOn"`
	DurationMs      int64     `json:"durationMs"`
	RequestHeaders  string    `json:"requestHeaders,omitempty"` // JSON text
	RequestPayload  string    `json:"requestPayload,omitempty"`
	Status          int       `json:"status"`                    // 0 when no answer came
	ResponseHeaders string    `json:"responseHeaders,omitempty"` // JSON text
	ResponsePayload string    `json:"responsePayload,omitempty"`
	Error           string    `json:"error,omitempty"`
}

// UnmarshalJSON accepts header and payload fields as JSON text or JSON values.
func (a *Attempt) UnmarshalJSON(b []byte) error {
	type plain Attempt
	var v struct {
		*plain
		StartedOn       flexTime `json:"startedOn"`
		RequestHeaders  flexText `json:"requestHeaders"`
		RequestPayload  flexText `json:"requestPayload"`
		ResponseHeaders flexText `json:"responseHeaders"`
		ResponsePayload flexText `json:"responsePayload"`
	}
	v.plain = (*plain)(a)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.StartedOn = v.StartedOn.t
	a.RequestHeaders, a.RequestPayload = string(v.RequestHeaders), string(v.RequestPayload)
	a.ResponseHeaders, a.ResponsePayload = string(v.ResponseHeaders), string(v.ResponsePayload)
	return nil
}

// Attempts returns the attempt history of delivery id, first attempt first (hookd only).
func (c *Client) Attempts(ctx context.Context, id int64) ([]*Attempt, error) {
	var out []*Attempt
	path := pathDeliveries + "/" + strconv.FormatInt(id, 10) + "/attempts"
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, retry: retryIdempote}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
