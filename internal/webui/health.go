package webui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// healthView is what the webhook list and the webhook's page show of its health, with the
// Pause or Resume button when the signed-in key may press it.
type healthView struct {
	ID          int64
	Name        string
	Badge       badge
	Reason      string
	Since       *time.Time
	ProbeAt     *time.Time // paused: the next probe; nil when it waits for a person
	ByHand      bool       // paused by a person: never probed
	Paused      bool
	CanPause    bool
	CanResume   bool
	CSRF        string
	ReturnTo    string // the page the buttons come back to
	ShowButtons bool
}

// newHealthView describes w's health for people; csrf and canWrite decide the buttons, back
// is the page they return to.
func newHealthView(w *hookd.Webhook, csrf string, canWrite bool, back string) healthView {
	state := w.State()
	v := healthView{
		ID: w.ID, Name: w.Name, Badge: healthBadge(state), Reason: w.HealthReason,
		Since: w.HealthSince, Paused: state == hookd.HealthPaused,
		CSRF: csrf, ReturnTo: back, ShowButtons: canWrite,
	}
	if state == hookd.HealthHealthy || state == hookd.HealthDisabled {
		// A healthy webhook needs no evidence; a disabled one shows DisabledReason instead,
		// and its health waits, kept, for it to be enabled (which resumes it).
		v.Reason, v.Since = "", nil
	}
	if v.Paused && w.ProbeAt != nil {
		if w.ProbeAt.Before(hookd.NeverProbe) {
			v.ProbeAt = w.ProbeAt
		} else {
			v.ByHand = true
		}
	}
	v.CanPause = canWrite && w.Enabled && !v.Paused
	v.CanResume = canWrite && v.Paused
	return v
}

// healthBadge labels a webhook's health state.
func healthBadge(h hookd.WebhookHealth) badge {
	switch h {
	case hookd.HealthHealthy:
		return badge{"ok", "Healthy", "Deliveries go out normally"}
	case hookd.HealthDegraded:
		return badge{"warn", "Degraded", "The receiver fails often: deliveries go out, fewer at once"}
	case hookd.HealthPaused:
		return badge{"fail", "Paused", "Deliveries wait (held) until the webhook resumes"}
	}
	return badge{"idle", "Disabled", "Switched off: nothing is sent"}
}

// handleWebhookPause pauses a webhook by hand: its deliveries wait, held, until a person
// resumes it (or enables it again); such a pause is never probed.
func (u *UI) handleWebhookPause(w http.ResponseWriter, r *http.Request, s *session) error {
	return u.setHealth(w, r, s, hookd.HealthPaused)
}

// handleWebhookResume makes a paused webhook healthy: its held deliveries go out again.
func (u *UI) handleWebhookResume(w http.ResponseWriter, r *http.Request, s *session) error {
	return u.setHealth(w, r, s, hookd.HealthHealthy)
}

// setHealth moves a webhook to paused or healthy as the API does, and goes back to the page
// the form came from. The store changes the state only from the one this request saw: when
// the worker moved it meanwhile, the change is tried once more from the new state.
func (u *UI) setHealth(w http.ResponseWriter, r *http.Request, s *session, to hookd.WebhookHealth) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	back := localPath(r.PostFormValue("return"), "/webhooks")
	notice := func(kind, format string) error {
		u.setFlash(w, flash{Kind: kind, Text: fmt.Sprintf(format, hook.Name)})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	switch {
	case to == hookd.HealthPaused && !hook.Enabled:
		return notice("error", "Webhook %q is disabled: there is nothing to pause. Enabling it resumes it.")
	case to == hookd.HealthHealthy && (hook.Health == "" || hook.Health == hookd.HealthHealthy):
		return notice("", "Webhook %q is not paused.")
	}
	p, verb := &hookd.WebhookHealthParams{ID: hook.ID, To: to}, "resumed"
	if to == hookd.HealthPaused {
		p.Reason, p.ProbeAt, verb = "paused by "+s.key.UserID, hookd.NeverProbe, "paused"
	}
	changed := false
	for try := 0; try < 2 && !changed; try++ {
		p.From = hook.Health
		if hook, changed, err = u.store.WebhookHealthSet(r.Context(), p); err != nil {
			return fmt.Errorf("set webhook %d health: %w", p.ID, err)
		}
	}
	if !changed {
		return hookd.Errorf(hookd.ECONFLICT, "The state of webhook %q changed while it was being %s; try again.", hook.Name, verb)
	}
	if to == hookd.HealthPaused {
		return notice("", "Webhook %q paused: its deliveries wait until you resume it.")
	}
	u.wakeDispatcher()
	return notice("", "Webhook %q resumed: its waiting deliveries go out now.")
}
