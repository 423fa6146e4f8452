package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

const (
	pathWebhook       = "/api/2.0/settings/webhook"
	pathWebhookEnable = "/api/2.0/settings/webhook/enable"
)

// DefaultSecretOverlap is how long hookd keeps signing with a replaced secret after a
// rotation, unless told otherwise.
const DefaultSecretOverlap = 24 * time.Hour

// Webhook is a subscription (DocSpace WebhooksConfigDto). The secret is never returned.
type Webhook struct {
	ID                 int64      `json:"id"`
	Name               string     `json:"name"`
	URI                string     `json:"uri"`
	Enabled            bool       `json:"enabled"`
	SSL                bool       `json:"ssl"`
	Triggers           Trigger    `json:"triggers"` // mask; 0 = every event
	TargetID           string     `json:"targetId,omitempty"`
	CreatedBy          *Employee  `json:"createdBy,omitempty"`
	CreatedOn          *time.Time `json:"createdOn,omitempty"`
	ModifiedBy         *Employee  `json:"modifiedBy,omitempty"`
	ModifiedOn         *time.Time `json:"modifiedOn,omitempty"`
	LastFailureOn      *time.Time `json:"lastFailureOn,omitempty"`
	LastFailureContent string     `json:"lastFailureContent,omitempty"`
	LastSuccessOn      *time.Time `json:"lastSuccessOn,omitempty"`
	// DisabledReason says why hookd switched the webhook off by itself (hookd only).
	DisabledReason string `json:"disabledReason,omitempty"`
	// LastStatus is the HTTP status of the webhook's newest delivery, 0 if none; set by
	// Webhooks only (the list's per-item status).
	LastStatus int `json:"lastStatus"`
	// StandardSigning says deliveries also carry the Standard Webhooks headers (hookd only).
	StandardSigning bool `json:"standardSigning"`
	// PreviousSecretUntil is, while a secret rotation overlaps, when the replaced secret stops
	// signing; nil otherwise (hookd only).
	PreviousSecretUntil *time.Time `json:"previousSecretUntil,omitempty"`
}

// UnmarshalJSON decodes a WebhooksConfigDto, accepting the date-time forms of every DocSpace
// version.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	var v struct {
		*plain
		CreatedOn     flexTime `json:"createdOn"`
		ModifiedOn    flexTime `json:"modifiedOn"`
		LastFailureOn flexTime `json:"lastFailureOn"`
		LastSuccessOn flexTime `json:"lastSuccessOn"`
		PreviousUntil flexTime `json:"previousSecretUntil"`
	}
	v.plain = (*plain)(w)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.CreatedOn, w.ModifiedOn = v.CreatedOn.ptr(), v.ModifiedOn.ptr()
	w.LastFailureOn, w.LastSuccessOn = v.LastFailureOn.ptr(), v.LastSuccessOn.ptr()
	w.PreviousSecretUntil = v.PreviousUntil.ptr()
	return nil
}

// Employee is the user a webhook was created or modified by (DocSpace EmployeeDto, of which
// only the id and name are kept).
type Employee struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
}

// UnmarshalJSON accepts the EmployeeDto object or a bare user id string.
func (e *Employee) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.ID)
	}
	type plain Employee
	return json.Unmarshal(b, (*plain)(e))
}

// WebhookParams are the fields of a webhook to create or to replace on update (DocSpace
// Create/UpdateWebhooksConfigRequestsDto).
type WebhookParams struct {
	Name string `json:"name"`
	URI  string `json:"uri"`
	// SecretKey signs deliveries; required on create, kept when empty on update.
	SecretKey string  `json:"secretKey,omitempty"`
	Enabled   bool    `json:"enabled"`
	SSL       bool    `json:"ssl"`
	Triggers  Trigger `json:"triggers"`
	TargetID  string  `json:"targetId,omitempty"`
	// StandardSigning adds the Standard Webhooks headers to deliveries (hookd only; DocSpace
	// ignores it). Always sent, so an update switches it off when false.
	StandardSigning bool `json:"standardSigning"`
}

// Webhooks lists the webhooks the key may see (all of them for an admin), by id.
func (c *Client) Webhooks(ctx context.Context) ([]*Webhook, error) {
	var items []struct {
		Configs *Webhook `json:"configs"`
		Status  int      `json:"status"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: pathWebhook, retry: retryIdempote}, &items); err != nil {
		return nil, err
	}
	out := make([]*Webhook, 0, len(items))
	for _, it := range items {
		if it.Configs == nil {
			continue
		}
		it.Configs.LastStatus = it.Status
		out = append(out, it.Configs)
	}
	return out, nil
}

// Webhook returns one webhook. The API has no route for one webhook, so it is looked up in
// the list; a missing id is a 404 *Error, as the server gives for the other routes.
func (c *Client) Webhook(ctx context.Context, id int64) (*Webhook, error) {
	all, err := c.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range all {
		if w.ID == id {
			return w, nil
		}
	}
	return nil, &Error{Method: http.MethodGet, Path: pathWebhook, StatusCode: http.StatusNotFound,
		Message: "The record could not be found"}
}

// CreateWebhook creates a webhook and returns it as stored.
func (c *Client) CreateWebhook(ctx context.Context, p WebhookParams) (*Webhook, error) {
	var w Webhook
	if _, err := c.do(ctx, request{method: http.MethodPost, path: pathWebhook, body: p}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// UpdateWebhook replaces every field of webhook id with p (DocSpace update is a full
// replacement: a false Enabled disables it), keeping the secret when p.SecretKey is empty.
func (c *Client) UpdateWebhook(ctx context.Context, id int64, p WebhookParams) (*Webhook, error) {
	body := struct {
		ID int64 `json:"id"`
		WebhookParams
	}{id, p}
	var w Webhook
	if _, err := c.do(ctx, request{method: http.MethodPut, path: pathWebhook, body: body}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// SetWebhookEnabled switches webhook id on or off. DocSpace requires the webhook's name and
// URI in the body, so they are looked up first.
func (c *Client) SetWebhookEnabled(ctx context.Context, id int64, enabled bool) (*Webhook, error) {
	cur, err := c.Webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"id": id, "name": cur.Name, "uri": cur.URI, "enabled": enabled}
	var w Webhook
	if _, err := c.do(ctx, request{method: http.MethodPut, path: pathWebhookEnable, body: body}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteWebhook deletes webhook id and returns it as it was.
func (c *Client) DeleteWebhook(ctx context.Context, id int64) (*Webhook, error) {
	var w Webhook
	path := pathWebhook + "/" + strconv.FormatInt(id, 10)
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: path}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// RotateWebhookSecret gives webhook id a new secret (hookd only: PUT
// /api/2.0/webhooks/{id}/secret). For overlap, the replaced secret keeps signing beside the
// new one, so that receivers can switch without rejecting deliveries; 0 replaces it at once.
// Use DefaultSecretOverlap unless you know better.
func (c *Client) RotateWebhookSecret(ctx context.Context, id int64, secret string, overlap time.Duration) (*Webhook, error) {
	body := struct {
		SecretKey string `json:"secretKey"`
		Overlap   string `json:"overlap"`
	}{secret, overlap.String()}
	var w Webhook
	path := "/api/2.0/webhooks/" + strconv.FormatInt(id, 10) + "/secret"
	if _, err := c.do(ctx, request{method: http.MethodPut, path: path, body: body}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
