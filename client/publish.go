package client

import (
	"context"
	"encoding/json"
	"net/http"
)

const pathEvents = "/api/2.0/webhooks/events"

// PublishParams is an event to publish (hookd only).
type PublishParams struct {
	Trigger  Trigger         // one trigger; sent as its wire name
	Payload  json.RawMessage // the entity, any JSON value; empty sends null
	TargetID string          // the entity id matched against webhooks' targetId
	// CreateBy is the acting user (uuid) put in the body's event.createBy.
	CreateBy string
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

// Publish stores an event and queues its deliveries (hookd's POST /api/2.0/webhooks/events).
func (c *Client) Publish(ctx context.Context, p PublishParams) (*PublishResult, error) {
	payload := p.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	trigger := any(int64(p.Trigger))
	if names := p.Trigger.Names(); len(names) == 1 {
		trigger = names[0]
	}
	body := struct {
		Trigger  any             `json:"trigger"`
		Payload  json.RawMessage `json:"payload"`
		TargetID string          `json:"targetId,omitempty"`
		CreateBy string          `json:"createBy,omitempty"`
	}{trigger, payload, p.TargetID, p.CreateBy}
	var out PublishResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathEvents, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
