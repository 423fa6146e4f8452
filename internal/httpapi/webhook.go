package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// webhookDTO is DocSpace's WebhooksConfigDto (spec §3.1) plus hookd's disabledReason,
// standardSigning, previousSecretUntil, ordered and endpoint health. Neither secret is ever
// part of it.
type webhookDTO struct {
	ID                 int64         `json:"id"`
	Name               string        `json:"name,omitempty"`
	URI                string        `json:"uri,omitempty"`
	Enabled            bool          `json:"enabled"`
	SSL                bool          `json:"ssl"`
	Triggers           hookd.Trigger `json:"triggers"`
	TargetID           string        `json:"targetId,omitempty"`
	CreatedBy          *userRef      `json:"createdBy,omitempty"`
	CreatedOn          *time.Time    `json:"createdOn,omitempty"`
	ModifiedBy         *userRef      `json:"modifiedBy,omitempty"`
	ModifiedOn         *time.Time    `json:"modifiedOn,omitempty"`
	LastFailureOn      *time.Time    `json:"lastFailureOn,omitempty"`
	LastFailureContent string        `json:"lastFailureContent,omitempty"`
	LastSuccessOn      *time.Time    `json:"lastSuccessOn,omitempty"`
	DisabledReason     string        `json:"disabledReason,omitempty"`
	// StandardSigning: deliveries also carry the Standard Webhooks headers (hookd).
	StandardSigning bool `json:"standardSigning"`
	// PreviousSecretUntil is when the secret replaced by the last rotation stops signing;
	// omitted when no rotation overlaps (hookd).
	PreviousSecretUntil *time.Time `json:"previousSecretUntil,omitempty"`
	// Ordered: deliveries of one ordering key go out one at a time, in publish order (hookd).
	Ordered bool `json:"ordered"`
	// Health is Webhook.State(); HealthReason and HealthSince describe it, ProbeAt is when a
	// paused webhook is probed next (hookd, docs/health.md). The times are null when unset.
	Health       hookd.WebhookHealth `json:"health"`
	HealthReason string              `json:"healthReason"`
	HealthSince  *time.Time          `json:"healthSince"`
	ProbeAt      *time.Time          `json:"probeAt"`
}

// userRef is the part of DocSpace's EmployeeDto that hookd knows: the user's id.
type userRef struct {
	ID string `json:"id"`
}

// webhookListItem is DocSpace's WebhooksConfigWithStatusDto (spec §3.2).
type webhookListItem struct {
	Configs webhookDTO `json:"configs"`
	Status  int        `json:"status"`
}

// newWebhookDTO returns the DTO of w at time now (which decides whether a rotation still
// overlaps).
func newWebhookDTO(w *hookd.Webhook, now time.Time) webhookDTO {
	dto := webhookDTO{
		ID:                 w.ID,
		Name:               w.Name,
		URI:                w.URI,
		Enabled:            w.Enabled,
		SSL:                w.SSL,
		Triggers:           w.Triggers,
		TargetID:           w.TargetID,
		CreatedBy:          newUserRef(w.CreatedBy),
		CreatedOn:          utcPtr(&w.CreatedOn),
		ModifiedBy:         newUserRef(w.ModifiedBy),
		ModifiedOn:         utcPtr(w.ModifiedOn),
		LastFailureOn:      utcPtr(w.LastFailureOn),
		LastFailureContent: w.LastFailureContent,
		LastSuccessOn:      utcPtr(w.LastSuccessOn),
		DisabledReason:     w.DisabledReason,
		StandardSigning:    w.StandardSigning,
		Ordered:            w.Ordered,
	}
	if w.PreviousSecretActive(now) {
		dto.PreviousSecretUntil = utcPtr(w.PreviousSecretUntil)
	}
	dto.setHealth(w)
	return dto
}

// setHealth fills the health fields. A healthy webhook needs no evidence; a disabled one
// shows why it was disabled rather than the evidence of the state it was in before. Only a
// paused webhook shows a probe time, and never one paused by a person (hookd.NeverProbe:
// only a person or enabling resumes it).
func (dto *webhookDTO) setHealth(w *hookd.Webhook) {
	dto.Health = w.State()
	switch dto.Health {
	case hookd.HealthDisabled:
		dto.HealthReason = w.DisabledReason
		return
	case hookd.HealthPaused:
		if w.ProbeAt != nil && w.ProbeAt.Before(hookd.NeverProbe) {
			dto.ProbeAt = utcPtr(w.ProbeAt)
		}
		dto.HealthReason = w.HealthReason
	case hookd.HealthDegraded:
		dto.HealthReason = w.HealthReason
	}
	dto.HealthSince = utcPtr(w.HealthSince)
}

func newUserRef(id string) *userRef {
	if id == "" {
		return nil
	}
	return &userRef{ID: id}
}

// utcPtr returns t in UTC, so that it encodes as RFC 3339 with "Z"; nil and zero times are
// omitted.
func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// handleWebhookList answers GET /settings/webhook: every webhook for an admin, the caller's
// own for a user.
func (a *API) handleWebhookList(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	var f hookd.WebhookFilter
	if !isAdmin(k) {
		f.CreatedBy = &k.UserID
	}
	hooks, err := a.store.WebhookList(r.Context(), f)
	if err != nil {
		return err
	}
	items := make(list[webhookListItem], 0, len(hooks))
	now := a.clock.Now()
	for _, h := range hooks {
		items = append(items, webhookListItem{Configs: newWebhookDTO(h, now), Status: h.LastStatus})
	}
	return writeOK(w, r, items)
}

// handleWebhookCreate answers POST /settings/webhook (spec §1.2).
func (a *API) handleWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	var req webhookRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.normalize()
	if err := req.validate(k, true); err != nil {
		return err
	}
	if err := a.checkReceiver(r, req.URI, req.SSL); err != nil {
		return err
	}
	switch _, err := a.store.WebhookFind(r.Context(), req.Name, req.URI); hookd.ErrorCode(err) {
	case "":
		return hookd.Errorf(hookd.ECONFLICT, "Webhook with the same name and payload URL already exists")
	case hookd.ENOTFOUND:
	default:
		return err
	}
	created, err := a.store.WebhookCreate(r.Context(), &hookd.Webhook{
		Name:      req.Name,
		URI:       req.URI,
		Secret:    req.SecretKey,
		SSL:       req.SSL,
		Enabled:   req.Enabled != nil && *req.Enabled,
		Triggers:  req.Triggers,
		TargetID:  req.targetID(),
		CreatedBy: k.UserID,

		StandardSigning: req.StandardSigning != nil && *req.StandardSigning,
		Ordered:         req.Ordered != nil && *req.Ordered,
	})
	if err != nil {
		return err
	}
	return writeOK(w, r, newWebhookDTO(created, a.clock.Now()))
}

// handleWebhookUpdate answers PUT /settings/webhook (spec §1.3): a full replacement, in which
// an omitted enabled disables and an empty secret keeps the stored one. As in DocSpace the
// input is validated before the webhook is looked up. hookd's standardSigning and ordered keep
// their values when omitted, so that DocSpace clients, which do not know them, leave them
// alone; a new secret
// replaces the old one at once (PUT /api/2.0/webhooks/{id}/secret rotates with an overlap).
func (a *API) handleWebhookUpdate(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	var req webhookRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.normalize()
	if req.ID == nil {
		return hookd.Errorf(hookd.EINVALID, "The id is required.")
	}
	if err := req.validate(k, false); err != nil {
		return err
	}
	if err := a.checkReceiver(r, req.URI, req.SSL); err != nil {
		return err
	}
	hook, err := a.manageableWebhook(r, k, *req.ID)
	if err != nil {
		return err
	}
	standard, ordered := hook.StandardSigning, hook.Ordered
	if req.StandardSigning != nil {
		standard = *req.StandardSigning
	}
	if req.Ordered != nil {
		ordered = *req.Ordered
	}
	now := a.clock.Now().UTC()
	updated, err := a.store.WebhookUpdate(r.Context(), &hookd.Webhook{
		ID:         *req.ID,
		Name:       req.Name,
		URI:        req.URI,
		Secret:     req.SecretKey,
		SSL:        req.SSL,
		Enabled:    req.Enabled != nil && *req.Enabled,
		Triggers:   req.Triggers,
		TargetID:   req.targetID(),
		ModifiedBy: k.UserID,
		ModifiedOn: &now,

		StandardSigning: standard,
		Ordered:         ordered,
	})
	if err != nil {
		return err
	}
	if !hook.Enabled && updated.Enabled {
		// Switched on: the store resumed it, as the enable route does, and released the
		// deliveries a pause held.
		a.wakeDispatcher()
	}
	return writeOK(w, r, newWebhookDTO(updated, now))
}

// handleWebhookEnable answers PUT /settings/webhook/enable (spec §1.4). Only id and enabled
// are read; unlike DocSpace, name and uri may be omitted. Enabling checks the stored URL
// again, since the outbound rules may have changed since it was saved.
func (a *API) handleWebhookEnable(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	var req webhookRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.ID == nil {
		return hookd.Errorf(hookd.EINVALID, "The id is required.")
	}
	if req.Enabled == nil {
		return hookd.Errorf(hookd.EINVALID, "The enabled field is required.")
	}
	hook, err := a.manageableWebhook(r, k, *req.ID)
	if err != nil {
		return err
	}
	if *req.Enabled {
		if err := a.checkReceiver(r, hook.URI, hook.SSL); err != nil {
			return err
		}
	}
	updated, err := a.store.WebhookSetEnabled(r.Context(), hook.ID, *req.Enabled, k.UserID, "")
	if err != nil {
		return err
	}
	return writeOK(w, r, newWebhookDTO(updated, a.clock.Now()))
}

// handleWebhookDelete answers DELETE /settings/webhook/{id} (spec §1.5) with the deleted
// webhook.
func (a *API) handleWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := a.manageableWebhook(r, k, id); err != nil {
		return err
	}
	deleted, err := a.store.WebhookDelete(r.Context(), id)
	if err != nil {
		return err
	}
	return writeOK(w, r, newWebhookDTO(deleted, a.clock.Now()))
}

// manageableWebhook returns webhook id if it exists (else 404) and k may manage it (else 403).
func (a *API) manageableWebhook(r *http.Request, k *hookd.Key, id int64) (*hookd.Webhook, error) {
	hook, err := a.store.WebhookGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canManage(k, hook.CreatedBy) {
		return nil, hookd.ErrAccessDenied
	}
	return hook, nil
}

// checkReceiver runs the outbound-safety check and, when configured, the HEAD probe.
func (a *API) checkReceiver(r *http.Request, uri string, ssl bool) error {
	if a.checkURL != nil {
		if err := a.checkURL(r.Context(), uri, ssl); err != nil {
			return err
		}
	}
	if a.headProbe != nil {
		if err := a.headProbe(r.Context(), uri, ssl); err != nil {
			return err
		}
	}
	return nil
}

// pathID reads the {id} path segment. DocSpace declares it {id:int}, so anything that is not
// an integer does not match the route: 404.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, hookd.ErrNotFound
	}
	return id, nil
}
