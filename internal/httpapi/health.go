package httpapi

import (
	"net/http"

	"github.com/hookd/hookd"
)

// healthDTO is the answer of the health checks.
type healthDTO struct {
	Status string `json:"status"`
}

// handleHealthz answers GET /healthz: the process serves requests. It needs no key.
func (a *API) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	return writeOK(w, r, healthDTO{Status: "ok"})
}

// handleReadyz answers GET /readyz: 200 when the store answers and its schema is current,
// 503 otherwise. It needs no key; the cause is logged, not shown.
func (a *API) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if err := a.store.Ping(r.Context()); err != nil {
		a.logger.WarnContext(r.Context(), "readiness check failed", "error", err)
		return hookd.Errorf(hookd.EUNAVAILABLE, "The database is not ready.")
	}
	return writeOK(w, r, healthDTO{Status: "ok"})
}
