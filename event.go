package hookd

import (
	"encoding/json"
	"time"
)

// Event is something that happened in the publishing product: one trigger and an opaque JSON
// payload. Its deliveries, one per matching webhook, share its payload.
type Event struct {
	ID       int64
	Trigger  Trigger // a single trigger bit
	Payload  json.RawMessage
	TargetID string // entity id used to match webhooks with a TargetID
	// OrderingKey groups the events whose deliveries an ordered webhook sends one at a time,
	// in publish order; "" means unordered. The API defaults it to TargetID.
	OrderingKey string
	CreatedBy   string // uuid of the acting user, may be empty
	CreatedOn   time.Time
}

// EventPublishParams are the arguments of Store.EventPublish.
type EventPublishParams struct {
	Trigger     Trigger
	Payload     json.RawMessage // compact, valid JSON
	TargetID    string
	OrderingKey string // see Event.OrderingKey
	CreatedBy   string
	// UserID is recorded as the acting user (DocSpace log uid) of the new deliveries.
	UserID string
}

// Published is one event stored by Store.EventPublishBatch and the deliveries it queued, in
// webhook id order.
type Published struct {
	Event      *Event
	Deliveries []*Delivery
}

// MaxPublishBatch is the most events one EventPublishBatch call (and one batch publish
// request) may carry.
const MaxPublishBatch = 1000
