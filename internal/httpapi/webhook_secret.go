package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Limits of a secret rotation's overlap: how long the replaced secret keeps signing.
const (
	defaultSecretOverlap = 24 * time.Hour
	maxSecretOverlap     = 30 * 24 * time.Hour
)

// secretRotateRequest is the body of PUT /api/2.0/webhooks/{id}/secret.
type secretRotateRequest struct {
	SecretKey string `json:"secretKey"`
	// Overlap is a Go duration ("24h", "90m"); omitted means 24h, "0s" replaces at once.
	Overlap *string `json:"overlap"`
}

// overlap returns the requested overlap, checked against its limits.
func (req *secretRotateRequest) overlap() (time.Duration, error) {
	if req.Overlap == nil || strings.TrimSpace(*req.Overlap) == "" {
		return defaultSecretOverlap, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(*req.Overlap))
	if err != nil || d < 0 || d > maxSecretOverlap {
		return 0, hookd.Errorf(hookd.EINVALID, "The overlap must be a duration such as 24h or 90m, from 0s to 720h.")
	}
	return d, nil
}

// handleWebhookSecretRotate answers PUT /api/2.0/webhooks/{id}/secret (hookd): the new secret
// signs from now on, and the one it replaces keeps signing beside it for the overlap (an
// extra x-hookd-signature-256-previous header and a second webhook-signature entry), so that
// receivers can switch without rejecting deliveries. Neither secret is in the answer or the log.
func (a *API) handleWebhookSecretRotate(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req secretRotateRequest
	if err := a.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := hookd.CheckSecret(req.SecretKey, hookd.APIFieldLabels.Secret); err != nil {
		return err
	}
	overlap, err := req.overlap()
	if err != nil {
		return err
	}
	hook, err := a.manageableWebhook(r, k, id)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(req.SecretKey), []byte(hook.Secret)) == 1 {
		return hookd.Errorf(hookd.EINVALID, "The new secretKey is the current one: choose another.")
	}
	now := a.clock.Now().UTC()
	upd := *hook // WebhookUpdate overwrites every field: keep the stored ones
	upd.Secret, upd.PreviousSecretUntil = req.SecretKey, nil
	upd.ModifiedBy, upd.ModifiedOn = k.UserID, &now
	if overlap > 0 {
		until := now.Add(overlap)
		upd.PreviousSecretUntil = &until
	}
	updated, err := a.store.WebhookUpdate(r.Context(), &upd)
	if err != nil {
		return err
	}
	a.logger.InfoContext(r.Context(), "webhook secret rotated", "webhook_id", id, "key_id", k.ID, "overlap", overlap.String())
	return writeOK(w, r, newWebhookDTO(updated, now))
}
