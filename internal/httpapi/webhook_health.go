package httpapi

import (
	"net/http"

	"github.com/hookd/hookd"
)

// handleWebhookPause answers POST /api/2.0/webhooks/{id}/pause (hookd): new deliveries of the
// webhook wait (held) and the waiting ones are held too, until a person resumes or enables
// it. A person's pause is never probed. A disabled webhook cannot be paused: enabling it would
// resume it at once, so the pause would mean nothing.
func (a *API) handleWebhookPause(w http.ResponseWriter, r *http.Request) error {
	k := caller(r.Context())
	return a.setWebhookHealth(w, r, &hookd.WebhookHealthParams{
		To: hookd.HealthPaused, Reason: "paused by " + k.UserID, ProbeAt: hookd.NeverProbe,
	})
}

// handleWebhookResume answers POST /api/2.0/webhooks/{id}/resume (hookd): the webhook is
// healthy again and its held deliveries are released, whatever paused or degraded it.
func (a *API) handleWebhookResume(w http.ResponseWriter, r *http.Request) error {
	return a.setWebhookHealth(w, r, &hookd.WebhookHealthParams{To: hookd.HealthHealthy})
}

// setWebhookHealth moves the path's webhook to p.To on behalf of its owner or an admin. The
// store changes the state only from the one the caller saw; when the delivery worker moved it
// meanwhile, the change is tried once more from the new state.
func (a *API) setWebhookHealth(w http.ResponseWriter, r *http.Request, p *hookd.WebhookHealthParams) error {
	k := caller(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	hook, err := a.manageableWebhook(r, k, id)
	if err != nil {
		return err
	}
	p.ID = id
	for try := 0; ; try++ {
		if p.To == hookd.HealthPaused && !hook.Enabled {
			return hookd.Errorf(hookd.EINVALID, "The webhook is disabled: there is nothing to pause (enabling it resumes it).")
		}
		p.From = hook.Health
		updated, changed, err := a.store.WebhookHealthSet(r.Context(), p)
		if err != nil {
			return err
		}
		if changed {
			if p.To == hookd.HealthHealthy {
				a.wakeDispatcher() // the held deliveries are due again
			}
			a.logger.InfoContext(r.Context(), "webhook health set by a person", "webhook_id", id, "key_id", k.ID, "health", string(p.To))
			return writeOK(w, r, newWebhookDTO(updated, a.clock.Now()))
		}
		if try == 1 {
			return hookd.Errorf(hookd.ECONFLICT, "The webhook's health is changing right now; try again.")
		}
		if hook = updated; hook == nil {
			if hook, err = a.store.WebhookGet(r.Context(), id); err != nil {
				return err
			}
		}
	}
}
