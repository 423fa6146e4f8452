package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// publishRequest is the body of POST /api/2.0/webhooks/events and one event of a batch.
// trigger, targetId and orderingKey may each be a string or a number, so they are read raw.
type publishRequest struct {
	Trigger     json.RawMessage `json:"trigger"`
	Payload     json.RawMessage `json:"payload"`
	TargetID    json.RawMessage `json:"targetId"`
	OrderingKey json.RawMessage `json:"orderingKey"`
	CreateBy    string          `json:"createBy"`
}

// publishDTO is the answer of a publish: the event and the deliveries it queued.
type publishDTO struct {
	EventID    int64                      `json:"eventId"`
	Trigger    hookd.Trigger              `json:"trigger"`
	Deliveries list[publishedDeliveryDTO] `json:"deliveries"`
}

type publishedDeliveryDTO struct {
	ID       int64 `json:"id"`
	ConfigID int64 `json:"configId"`
}

// handleEventPublish answers POST /api/2.0/webhooks/events (hookd extension): store the event
// and one delivery per matching enabled webhook, then wake the dispatcher. Only an admin
// write key may publish, since an event reaches every user's receivers. A full backlog
// refuses the publish (backpressure.go).
func (a *API) handleEventPublish(w http.ResponseWriter, r *http.Request) error {
	k, err := a.publisher(r)
	if err != nil {
		return err
	}
	var req publishRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	p, err := req.params(k)
	if err != nil {
		return err
	}
	ev, deliveries, err := a.store.EventPublish(r.Context(), p)
	if err != nil {
		return err
	}
	a.wakeDispatcher()
	return writeEnvelope(w, r, http.StatusAccepted, newPublishDTO(ev, deliveries), nil)
}

// newPublishDTO is the answer about one published event.
func newPublishDTO(ev *hookd.Event, deliveries []*hookd.Delivery) publishDTO {
	out := publishDTO{EventID: ev.ID, Trigger: ev.Trigger, Deliveries: make(list[publishedDeliveryDTO], 0, len(deliveries))}
	for _, d := range deliveries {
		out.Deliveries = append(out.Deliveries, publishedDeliveryDTO{ID: d.ID, ConfigID: d.WebhookID})
	}
	return out
}

// publisher returns the caller of a publish, when it may publish now: with an admin write key
// and a backlog under the limit.
func (a *API) publisher(r *http.Request) (*hookd.Key, error) {
	k := caller(r.Context())
	if err := requireAdminWriter(k); err != nil {
		return nil, err
	}
	if err := a.checkBacklog(r.Context()); err != nil {
		return nil, err
	}
	return k, nil
}

// params validates the request and returns the store's arguments.
func (req *publishRequest) params(k *hookd.Key) (*hookd.EventPublishParams, error) {
	trigger, err := parseEventTrigger(req.Trigger)
	if err != nil {
		return nil, err
	}
	if isNull(req.Payload) {
		return nil, hookd.Errorf(hookd.EINVALID, "The payload is required: any JSON value that describes the event.")
	}
	var payload bytes.Buffer
	if err := json.Compact(&payload, req.Payload); err != nil {
		return nil, hookd.Errorf(hookd.EINVALID, "Malformed JSON body: the payload is not valid JSON.")
	}
	target, err := idField(req.TargetID, "targetId", func() string { return payloadID(req.Payload) })
	if err != nil {
		return nil, err
	}
	// An absent or null orderingKey is the target id; an explicit "" publishes unordered.
	orderingKey, err := idField(req.OrderingKey, "orderingKey", func() string { return target })
	if err != nil {
		return nil, err
	}
	createdBy := k.UserID
	if req.CreateBy != "" {
		if !uuidPattern.MatchString(req.CreateBy) {
			return nil, hookd.Errorf(hookd.EINVALID, "The value '%s' is not valid for createBy: want a UUID.", req.CreateBy)
		}
		createdBy = req.CreateBy
	}
	return &hookd.EventPublishParams{
		Trigger:     trigger,
		Payload:     payload.Bytes(),
		TargetID:    target,
		OrderingKey: orderingKey,
		CreatedBy:   createdBy,
		UserID:      k.UserID,
	}, nil
}

// parseEventTrigger reads the event's trigger: one defined trigger, by name or by number.
func parseEventTrigger(raw json.RawMessage) (hookd.Trigger, error) {
	if isNull(raw) {
		return 0, hookd.Errorf(hookd.EINVALID, "The trigger is required: one trigger such as \"file.created\" or 128.")
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, hookd.Errorf(hookd.EINVALID, "The value of trigger has the wrong type: want a string or a number.")
		}
	} else {
		s = string(raw)
	}
	t, err := hookd.ParseTrigger(s)
	if err != nil || !t.Single() {
		return 0, hookd.Errorf(hookd.EINVALID, "The value '%s' is not valid for trigger: want one trigger such as \"file.created\" or 128 (not \"*\" and not a combination).", s)
	}
	return t, nil
}

// idField reads an id field given as a string or a number, of at most the length of a
// webhook's targetId; absent or null, it is def().
func idField(raw json.RawMessage, name string, def func() string) (string, error) {
	id, ok := jsonID(raw)
	if !ok {
		return "", hookd.Errorf(hookd.EINVALID, "The value of %s has the wrong type: want a string or a number.", name)
	}
	if isNull(raw) {
		id = def()
	}
	if utf8.RuneCountInString(id) > hookd.WebhookTargetIDMax {
		return "", hookd.Errorf(hookd.EINVALID, "The %s must be at most %d characters long.", name, hookd.WebhookTargetIDMax)
	}
	return id, nil
}

// jsonID reads an id given as a JSON string or number; null or absent is "". ok is false for
// any other JSON type.
func jsonID(raw json.RawMessage) (id string, ok bool) {
	if isNull(raw) {
		return "", true
	}
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", false
		}
		return id, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false
		}
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		return n.String(), true
	}
	return "", false
}

// payloadID returns the "id" member of an object payload (a number or a string), "" when
// there is none.
func payloadID(payload json.RawMessage) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil {
		return ""
	}
	id, _ := jsonID(obj["id"])
	return id
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
