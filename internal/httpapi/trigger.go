package httpapi

import (
	"net/http"

	"github.com/hookd/hookd"
)

// triggerDTO is DocSpace's WebhookTriggerDto (spec §3.5).
type triggerDTO struct {
	Name      string        `json:"name"`
	ID        hookd.Trigger `json:"id"`
	Available bool          `json:"available"`
}

// handleTriggerList answers GET /settings/webhook/triggers in the v3.7 shape: every trigger
// in enum order, available according to the caller's role. Any valid key may call it.
func (a *API) handleTriggerList(w http.ResponseWriter, r *http.Request) error {
	admin := isAdmin(caller(r.Context()))
	out := make(list[triggerDTO], 0, len(hookd.Triggers))
	for _, t := range hookd.Triggers {
		out = append(out, triggerDTO{Name: t.Name, ID: t.Value, Available: admin || t.User})
	}
	return writeOK(w, r, out)
}
