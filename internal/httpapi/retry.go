package httpapi

import (
	"net/http"

	"github.com/hookd/hookd"
)

// maxRetryIDs caps one batch retry, so that one request cannot queue an unbounded number of
// deliveries.
const maxRetryIDs = 1000

// retryRequest is the body of the batch retry; the DocSpace UI sends "Ids", the spec "ids".
type retryRequest struct {
	IDs []int64 `json:"ids"`
}

// handleRetryOne answers PUT /settings/webhook/{id}/retry (spec §1.7): a new delivery of the
// same event, returned as a log row. id is a log (delivery) id.
func (a *API) handleRetryOne(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if id == 0 {
		return hookd.Errorf(hookd.EINVALID, "Id")
	}
	if _, err := a.visibleDelivery(r.Context(), k, id); err != nil {
		return err
	}
	rows, err := a.retry(r, k, []int64{id})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return hookd.ErrNotFound // deleted between the check and the retry
	}
	return writeOK(w, r, rows[0])
}

// handleRetryBatch answers PUT /settings/webhook/retry (spec §1.8). Ids that do not exist or
// that the caller may not see are skipped silently, as DocSpace does.
func (a *API) handleRetryBatch(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	var req retryRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.IDs) > maxRetryIDs {
		return hookd.Errorf(hookd.EINVALID, "Too many ids: at most %d per request, got %d.", maxRetryIDs, len(req.IDs))
	}
	rows := list[logDTO]{}
	if len(req.IDs) > 0 {
		var err error
		if rows, err = a.retry(r, k, req.IDs); err != nil {
			return err
		}
	}
	return writeOK(w, r, rows)
}

// retry creates the new deliveries, wakes the dispatcher and returns them as log rows.
func (a *API) retry(r *http.Request, k *hookd.Key, ids []int64) (list[logDTO], error) {
	p := &hookd.DeliveryRetryParams{IDs: ids, CreatedBy: k.UserID}
	if !isAdmin(k) {
		p.WebhookCreatedBy = &k.UserID
	}
	created, err := a.store.DeliveryRetry(r.Context(), p)
	if err != nil {
		return nil, err
	}
	if len(created) > 0 {
		a.wakeDispatcher()
	}
	return a.logDTOs(r.Context(), created)
}
