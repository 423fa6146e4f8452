package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

const (
	pathEvents      = "/api/2.0/webhooks/events"
	pathEventsBatch = "/api/2.0/webhooks/events/batch"
)

// MaxPublishBatch is the most events one PublishBatch may carry.
const MaxPublishBatch = 1000

// PublishParams is an event to publish (hookd only).
type PublishParams struct {
	Trigger  Trigger         // one trigger; sent as its wire name
	Payload  json.RawMessage // the entity, any JSON value; empty sends null
	TargetID string          // the entity id matched against webhooks' targetId
	// CreateBy is the acting user (uuid) put in the body's event.createBy.
	CreateBy string
	// OrderingKey groups the events an ordered webhook delivers one at a time, in publish
	// order. nil leaves it to the server, which uses TargetID; a pointer to "" publishes the
	// event unordered.
	OrderingKey *string
}

// PublishedDelivery is a delivery created by a publish.
type PublishedDelivery struct {
	ID       int64 `json:"id"`
	ConfigID int64 `json:"configId"`
}

// PublishResult is the answer of a publish: the event and its deliveries, one per matching
// enabled webhook.
type PublishResult struct {
	EventID    int64               `json:"eventId"`
	Trigger    Trigger             `json:"trigger"`
	Deliveries []PublishedDelivery `json:"deliveries"`
}

// publishBody is the wire form of one event to publish.
type publishBody struct {
	Trigger     any             `json:"trigger"`
	Payload     json.RawMessage `json:"payload"`
	TargetID    string          `json:"targetId,omitempty"`
	CreateBy    string          `json:"createBy,omitempty"`
	OrderingKey *string         `json:"orderingKey,omitempty"`
}

func newPublishBody(p PublishParams) publishBody {
	payload := p.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	trigger := any(int64(p.Trigger))
	if names := p.Trigger.Names(); len(names) == 1 {
		trigger = names[0]
	}
	return publishBody{trigger, payload, p.TargetID, p.CreateBy, p.OrderingKey}
}

// Publish stores an event and queues its deliveries (hookd's POST /api/2.0/webhooks/events).
func (c *Client) Publish(ctx context.Context, p PublishParams) (*PublishResult, error) {
	var out PublishResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathEvents, body: newPublishBody(p)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PublishBatch stores 1 to MaxPublishBatch events in one request and one transaction (hookd's
// POST /api/2.0/webhooks/events/batch) and returns their results in the same order. Either
// every event is queued or none is: the error of an invalid event names its index
// (events[i]).
func (c *Client) PublishBatch(ctx context.Context, ps []PublishParams) ([]*PublishResult, error) {
	if len(ps) == 0 || len(ps) > MaxPublishBatch {
		return nil, fmt.Errorf("publish batch: 1 to %d events, got %d", MaxPublishBatch, len(ps))
	}
	body := struct {
		Events []publishBody `json:"events"`
	}{make([]publishBody, len(ps))}
	for i, p := range ps {
		body.Events[i] = newPublishBody(p)
	}
	var out struct {
		Events []*PublishResult `json:"events"`
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathEventsBatch, body: body}, &out); err != nil {
		return nil, err
	}
	if len(out.Events) != len(ps) {
		return nil, fmt.Errorf("publish batch: %d results for %d events", len(out.Events), len(ps))
	}
	return out.Events, nil
}
