package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/hookd/hookd"
)

// DefaultMaxBatchBodyBytes is the body limit of a batch publish when Config.MaxBatchBodyBytes
// is zero: room for MaxPublishBatch events of a few KiB each.
const DefaultMaxBatchBodyBytes int64 = 16 << 20

// publishBatchRequest is the body of POST /api/2.0/webhooks/events/batch. The events are read
// raw first, so that a problem in one is reported with its index.
type publishBatchRequest struct {
	Events []json.RawMessage `json:"events"`
}

// publishBatchDTO is the answer of a batch publish: one single publish answer per event, in
// the request's order.
type publishBatchDTO struct {
	Events list[publishDTO] `json:"events"`
}

// handleEventPublishBatch answers POST /api/2.0/webhooks/events/batch (hookd extension): 1 to
// hookd.MaxPublishBatch events, each exactly as the body of a single publish, stored in one
// transaction, so that either every event is queued or none is. One invalid event rejects the
// batch with 400 naming its index. Authorization and backpressure are the single publish's;
// the dispatcher is woken once.
func (a *API) handleEventPublishBatch(w http.ResponseWriter, r *http.Request) error {
	k, err := a.publisher(r)
	if err != nil {
		return err
	}
	var req publishBatchRequest
	if err := decodeJSONLimit(w, r, &req, a.maxBatchBody); err != nil {
		return err
	}
	ps, err := a.batchParams(k, req.Events)
	if err != nil {
		return err
	}
	published, err := a.store.EventPublishBatch(r.Context(), ps)
	if err != nil {
		return err
	}
	a.wakeDispatcher()
	out := publishBatchDTO{Events: make(list[publishDTO], 0, len(published))}
	for _, p := range published {
		out.Events = append(out.Events, newPublishDTO(p.Event, p.Deliveries))
	}
	return writeEnvelope(w, r, http.StatusAccepted, out, nil)
}

// batchParams validates every event of a batch as a single publish would and returns the
// store's arguments; a problem is reported as "events[i]: ...".
func (a *API) batchParams(k *hookd.Key, events []json.RawMessage) ([]*hookd.EventPublishParams, error) {
	switch {
	case len(events) == 0:
		return nil, hookd.Errorf(hookd.EINVALID, "The events are required: an array of 1 to %d events, each as the body of POST /api/2.0/webhooks/events.", hookd.MaxPublishBatch)
	case len(events) > hookd.MaxPublishBatch:
		return nil, hookd.Errorf(hookd.EINVALID, "Too many events: %d, at most %d per batch.", len(events), hookd.MaxPublishBatch)
	}
	ps := make([]*hookd.EventPublishParams, 0, len(events))
	for i, raw := range events {
		p, err := a.batchEvent(k, raw)
		if err != nil {
			return nil, hookd.Errorf(hookd.EINVALID, "events[%d]: %s", i, hookd.ErrorMessage(err))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// batchEvent reads one event of a batch, held to the single publish's body limit.
func (a *API) batchEvent(k *hookd.Key, raw json.RawMessage) (*hookd.EventPublishParams, error) {
	if int64(len(raw)) > a.maxBody {
		return nil, hookd.Errorf(hookd.EINVALID, "The event is larger than %d bytes, the limit of a single publish.", a.maxBody)
	}
	if isNull(raw) || raw[0] != '{' {
		return nil, hookd.Errorf(hookd.EINVALID, "Malformed event: want a JSON object, as the body of a single publish.")
	}
	var req publishRequest
	if err := decodeBytes(raw, &req); err != nil {
		return nil, err
	}
	return req.params(k)
}
