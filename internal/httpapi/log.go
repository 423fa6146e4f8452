package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// logDTO is DocSpace's WebhooksLogDto (spec §3.4) plus hookd's configId, state, attempts,
// retryOf and nextAttemptOn.
type logDTO struct {
	ID              int64               `json:"id"`
	ConfigName      string              `json:"configName,omitempty"`
	Trigger         hookd.Trigger       `json:"trigger"`
	CreationTime    *time.Time          `json:"creationTime,omitempty"`
	RequestHeaders  *string             `json:"requestHeaders,omitempty"`
	RequestPayload  string              `json:"requestPayload"`
	ResponseHeaders *string             `json:"responseHeaders,omitempty"`
	ResponsePayload *string             `json:"responsePayload,omitempty"`
	Status          int                 `json:"status"`
	Delivery        *time.Time          `json:"delivery,omitempty"`
	ConfigID        int64               `json:"configId"`
	State           hookd.DeliveryState `json:"state"`
	Attempts        int                 `json:"attempts"`
	RetryOf         int64               `json:"retryOf,omitempty"`
	NextAttemptOn   *time.Time          `json:"nextAttemptOn,omitempty"`
}

// attemptDTO is one attempt of a delivery (hookd extension).
type attemptDTO struct {
	ID              int64               `json:"id"`
	Number          int                 `json:"number"`
	StartedOn       *time.Time          `json:"startedOn,omitempty"`
	DurationMs      int64               `json:"durationMs"`
	RequestHeaders  map[string][]string `json:"requestHeaders,omitempty"`
	RequestPayload  string              `json:"requestPayload"`
	Status          int                 `json:"status"`
	ResponseHeaders map[string][]string `json:"responseHeaders,omitempty"`
	ResponsePayload string              `json:"responsePayload,omitempty"`
	Error           string              `json:"error,omitempty"`
}

// handleLogList answers GET /settings/webhooks/log (spec §1.6) with one page, newest first,
// and the number of matches in the envelope's total.
func (a *API) handleLogList(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	f, err := logFilter(r.URL.Query(), k)
	if err != nil {
		return err
	}
	rows, total, err := a.store.DeliveryList(r.Context(), f)
	if err != nil {
		return err
	}
	dtos, err := a.logDTOs(r.Context(), rows)
	if err != nil {
		return err
	}
	return writeEnvelope(w, r, http.StatusOK, dtos, &total)
}

// handleAttemptList answers GET /webhooks/deliveries/{id}/attempts with the delivery's
// attempts, first first. Visibility is the log's: a user sees its own webhooks' deliveries.
func (a *API) handleAttemptList(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := a.visibleDelivery(r.Context(), k, id); err != nil {
		return err
	}
	attempts, err := a.store.AttemptList(r.Context(), id)
	if err != nil {
		return err
	}
	out := make(list[attemptDTO], 0, len(attempts))
	for _, at := range attempts {
		out = append(out, attemptDTO{
			ID:              at.ID,
			Number:          at.Number,
			StartedOn:       utcPtr(&at.StartedAt),
			DurationMs:      at.Duration.Milliseconds(),
			RequestHeaders:  at.RequestHeaders,
			RequestPayload:  string(at.RequestBody),
			Status:          at.Status,
			ResponseHeaders: at.ResponseHeaders,
			ResponsePayload: string(at.ResponseBody),
			Error:           at.Error,
		})
	}
	return writeOK(w, r, out)
}

// visibleDelivery returns delivery id if it exists (else 404) and k may see it (else 403).
func (a *API) visibleDelivery(ctx context.Context, k *hookd.Key, id int64) (*hookd.Delivery, error) {
	d, err := a.store.DeliveryGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if isAdmin(k) {
		return d, nil
	}
	hook, err := a.store.WebhookGet(ctx, d.WebhookID)
	if err != nil {
		return nil, err
	}
	if !canManage(k, hook.CreatedBy) {
		return nil, hookd.ErrAccessDenied
	}
	return d, nil
}

// logDTOs converts deliveries to log rows. Rows never attempted show the body that would be
// sent, which needs their webhook: each is read once per call.
func (a *API) logDTOs(ctx context.Context, rows []*hookd.Delivery) (list[logDTO], error) {
	hooks := map[int64]*hookd.Webhook{}
	out := make(list[logDTO], 0, len(rows))
	for _, d := range rows {
		if d.Event == nil {
			// A store may return new rows without their event (DeliveryRetry); read it.
			full, err := a.store.DeliveryGet(ctx, d.ID)
			if err != nil {
				return nil, err
			}
			d = full
		}
		var hook *hookd.Webhook
		if d.LastAttempt == nil {
			if hook = hooks[d.WebhookID]; hook == nil {
				h, err := a.store.WebhookGet(ctx, d.WebhookID)
				if err != nil {
					return nil, err
				}
				hooks[d.WebhookID], hook = h, h
			}
		}
		dto, err := newLogDTO(d, hook)
		if err != nil {
			return nil, err
		}
		out = append(out, dto)
	}
	return out, nil
}

// newLogDTO composes the DocSpace view of d from its last attempt, or, before any attempt,
// from the body hook would be sent (without event.id, as a DocSpace row not yet sent).
func newLogDTO(d *hookd.Delivery, hook *hookd.Webhook) (logDTO, error) {
	dto := logDTO{
		ID:           d.ID,
		ConfigName:   d.WebhookName,
		Trigger:      d.Trigger,
		CreationTime: utcPtr(&d.CreatedOn),
		Status:       d.Status,
		Delivery:     utcPtr(d.DeliveredOn),
		ConfigID:     d.WebhookID,
		State:        d.State,
		Attempts:     d.Attempts,
		RetryOf:      d.RetryOf,
	}
	if d.State == hookd.DeliveryStatePending || d.State == hookd.DeliveryStateRetrying {
		dto.NextAttemptOn = utcPtr(&d.NextAttemptAt)
	}
	at := d.LastAttempt
	if at == nil {
		body, err := hookd.BuildBody(d.Event, hook, 0, nil)
		if err != nil {
			return dto, err
		}
		dto.RequestPayload = string(body)
		return dto, nil
	}
	dto.RequestPayload = string(at.RequestBody)
	dto.RequestHeaders = headerJSON(at.RequestHeaders)
	if at.Status != 0 {
		dto.ResponseHeaders = headerJSON(at.ResponseHeaders)
		body := string(at.ResponseBody)
		dto.ResponsePayload = &body
	} else if msg := firstNonEmpty(at.Error, d.LastError); msg != "" {
		dto.ResponsePayload = &msg
	}
	return dto, nil
}

// headerJSON renders headers as DocSpace stores them: the JSON text of a name → values map.
func headerJSON(h map[string][]string) *string {
	if h == nil {
		h = map[string][]string{}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil // a map of strings always encodes
	}
	s := string(b)
	return &s
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
