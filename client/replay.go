package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const pathReplays = "/api/2.0/webhooks/replays"

// ReplayParams describe a replay (hookd only): the log filters of the deliveries to re-send
// and how fast. Zero fields let the server choose.
type ReplayParams struct {
	// Filter selects the deliveries, as the log does; StartIndex and Count are not used.
	// MaxID 0 means every delivery that exists when the job starts.
	Filter DeliveryFilter
	// ExcludeRetried leaves alone deliveries that another delivery already retries.
	ExcludeRetried bool
	Rate           int // new deliveries per second; 0: the server's default (50)
	// Window is the most new deliveries that may wait for an answer at once; 0: the server's
	// default (two seconds' worth).
	Window int
	// IdempotencyKey makes StartReplay safe to repeat: the same key from the same user returns
	// the job it started the first time, never a second one.
	IdempotencyKey string
}

// body renders p as the request body of POST /webhooks/replays.
func (p *ReplayParams) body(dryRun bool, sample int) map[string]any {
	b := map[string]any{}
	for k, v := range p.Filter.query() {
		switch k {
		case "startIndex", "count":
		default:
			b[k] = v[0]
		}
	}
	set := func(k string, v int) {
		if v != 0 {
			b[k] = v
		}
	}
	set("rate", p.Rate)
	set("window", p.Window)
	if p.ExcludeRetried {
		b["excludeRetried"] = true
	}
	if p.IdempotencyKey != "" {
		b["idempotencyKey"] = p.IdempotencyKey
	}
	if dryRun {
		b["dryRun"] = true
		b["sample"] = sample
	}
	return b
}

// Replay is a replay job and its progress (hookd only).
type Replay struct {
	ID             int64        `json:"id"`
	State          string       `json:"state"` // queued, running, done, cancelled
	Filter         ReplayFilter `json:"filter"`
	ExcludeRetried bool         `json:"excludeRetried"`
	Rate           int          `json:"rate"`
	Window         int          `json:"window"`
	IdempotencyKey string       `json:"idempotencyKey,omitempty"`
	CreatedBy      string       `json:"createdBy"`
	CreatedOn      *time.Time   `json:"createdOn,omitempty"`
	StartedOn      *time.Time   `json:"startedOn,omitempty"`
	FinishedOn     *time.Time   `json:"finishedOn,omitempty"`
	Total          int64        `json:"total"`     // deliveries pinned when the job started
	Processed      int64        `json:"processed"` // retried + skipped + failed + cancelled
	Pending        int64        `json:"pending"`
	Retried        int64        `json:"retried"`   // re-sent as a new delivery
	Skipped        int64        `json:"skipped"`   // already retried by another delivery
	Failed         int64        `json:"failed"`    // could not be re-created (gone, not visible)
	Cancelled      int64        `json:"cancelled"` // left when the job was cancelled
}

// Finished reports whether the job will not change any more.
func (r *Replay) Finished() bool { return r.State == "done" || r.State == "cancelled" }

// ReplayFilter is the filter a job pinned its deliveries with, in the log's names.
type ReplayFilter struct {
	DeliveryFrom *time.Time `json:"deliveryFrom,omitempty"`
	DeliveryTo   *time.Time `json:"deliveryTo,omitempty"`
	HookURI      string     `json:"hookUri,omitempty"`
	ConfigID     int64      `json:"configId,omitempty"`
	EventID      int64      `json:"eventId,omitempty"`
	GroupStatus  string     `json:"groupStatus,omitempty"`
	UserID       string     `json:"userId,omitempty"`
	Trigger      Trigger    `json:"trigger,omitempty"`
	MaxID        int64      `json:"maxId"` // no delivery created later is replayed
}

// ReplayPreview is what a replay would do: the answer of a dry run.
type ReplayPreview struct {
	Total    int64       `json:"total"`    // deliveries that match
	Skipped  int64       `json:"skipped"`  // of those, already retried (ExcludeRetried)
	ToReplay int64       `json:"toReplay"` // what a job would re-send
	MaxID    int64       `json:"maxId"`    // the pin a job started now would use
	Sample   []*Delivery `json:"sample"`   // the first deliveries it would re-send, oldest first
}

// ReplayItem is one pinned delivery of a job and what became of it.
type ReplayItem struct {
	DeliveryID    int64      `json:"deliveryId"`
	State         string     `json:"state"` // pending, retried, skipped, failed, cancelled
	NewDeliveryID int64      `json:"newDeliveryId,omitempty"`
	ProcessedOn   *time.Time `json:"processedOn,omitempty"`
	ConfigID      int64      `json:"configId,omitempty"`
	ConfigName    string     `json:"configName,omitempty"`
	Trigger       Trigger    `json:"trigger,omitempty"`
}

// ReplayUnsupported reports whether err, from StartReplay or PreviewReplay, means that the
// server has no replay jobs (DocSpace, an older hookd): 404, 405 or 501. Page through the log
// and retry in batches instead.
func ReplayUnsupported(err error) bool {
	switch StatusCode(err) {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	return false
}

// PreviewReplay asks what a replay with p would do, showing up to sample (0–100) of its
// deliveries, and creates nothing.
func (c *Client) PreviewReplay(ctx context.Context, p ReplayParams, sample int) (*ReplayPreview, error) {
	var out ReplayPreview
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathReplays, body: p.body(true, sample), retry: retryIdempote}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartReplay starts a replay job, or returns the one the same key started before. With an
// idempotency key the request is repeated after a dropped connection or a 5xx like a GET,
// since the server never starts a second job for it; without one only a 429 is repeated.
func (c *Client) StartReplay(ctx context.Context, p ReplayParams) (*Replay, error) {
	policy := retryRateOnly
	if p.IdempotencyKey != "" {
		policy = retryIdempote
	}
	var out Replay
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathReplays, body: p.body(false, 0), retry: policy}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Replay returns a job and its progress.
func (c *Client) Replay(ctx context.Context, id int64) (*Replay, error) {
	var out Replay
	if _, err := c.do(ctx, request{method: http.MethodGet, path: replayPath(id), retry: retryIdempote}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Replays returns one page of the key's jobs (an admin's: everyone's), newest first, and how
// many there are. count 0 lets the server choose (100).
func (c *Client) Replays(ctx context.Context, startIndex, count int) ([]*Replay, int64, error) {
	var out []*Replay
	env, err := c.do(ctx, request{method: http.MethodGet, path: pathReplays, query: pageQuery(startIndex, count, ""), retry: retryIdempote}, &out)
	if err != nil {
		return nil, 0, err
	}
	return out, envTotal(env), nil
}

// ReplayItems returns one page of a job's items in delivery id order, only those in state
// when it is not "", and how many match. count 0 lets the server choose (100; at most 1,000).
func (c *Client) ReplayItems(ctx context.Context, id int64, state string, startIndex, count int) ([]*ReplayItem, int64, error) {
	var out []*ReplayItem
	env, err := c.do(ctx, request{method: http.MethodGet, path: replayPath(id) + "/items",
		query: pageQuery(startIndex, count, state), retry: retryIdempote}, &out)
	if err != nil {
		return nil, 0, err
	}
	return out, envTotal(env), nil
}

// CancelReplay stops a job; what it already re-sent stays sent. A finished job is returned
// unchanged. Cancelling twice is harmless, so the request is repeated like a GET.
func (c *Client) CancelReplay(ctx context.Context, id int64) (*Replay, error) {
	var out Replay
	if _, err := c.do(ctx, request{method: http.MethodPost, path: replayPath(id) + "/cancel", retry: retryIdempote}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func replayPath(id int64) string { return pathReplays + "/" + strconv.FormatInt(id, 10) }

func pageQuery(startIndex, count int, state string) url.Values {
	q := url.Values{}
	if startIndex > 0 {
		q.Set("startIndex", strconv.Itoa(startIndex))
	}
	if count > 0 {
		q.Set("count", strconv.Itoa(count))
	}
	if state != "" {
		q.Set("state", state)
	}
	return q
}

// envTotal returns the envelope's total, -1 when absent.
func envTotal(env *envelope) int64 {
	if env.Total == nil {
		return -1
	}
	return *env.Total
}
