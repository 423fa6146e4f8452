package webui

import "net/http"

// routes registers every page of the UI. Pages that show data need a session (GET is
// redirected to the sign-in page without one); forms that change data also need a write key
// and the session's CSRF token.
func (u *UI) routes() {
	m := u.mux

	m.Handle("GET /assets/{name}", u.assets())
	m.HandleFunc("GET /signin", u.handleSigninForm)
	m.HandleFunc("POST /signin", u.handleSignin)
	m.Handle("POST /signout", u.form(u.handleSignout))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	})

	// Webhooks.
	m.Handle("GET /webhooks", u.page(u.handleWebhookList))
	m.Handle("GET /webhooks/new", u.page(u.handleWebhookNew))
	m.Handle("POST /webhooks", u.form(u.writer(u.handleWebhookCreate)))
	m.Handle("GET /webhooks/{id}/edit", u.page(u.handleWebhookEdit))
	m.Handle("POST /webhooks/{id}", u.form(u.writer(u.handleWebhookUpdate)))
	m.Handle("POST /webhooks/{id}/enable", u.form(u.writer(u.handleWebhookEnable)))
	m.Handle("POST /webhooks/{id}/pause", u.form(u.writer(u.handleWebhookPause)))
	m.Handle("POST /webhooks/{id}/resume", u.form(u.writer(u.handleWebhookResume)))
	m.Handle("GET /webhooks/{id}/delete", u.page(u.handleWebhookDeleteConfirm))
	m.Handle("POST /webhooks/{id}/delete", u.form(u.writer(u.handleWebhookDelete)))

	// Deliveries: history, details, retry, and the live view of deliveries in flight.
	m.Handle("GET /history", u.page(u.handleHistory))
	m.Handle("GET /webhooks/{id}/history", u.page(u.handleHistory))
	m.Handle("GET /deliveries/{id}", u.page(u.handleDetails))
	m.Handle("GET /deliveries/{id}/raw", u.page(u.handleRaw))
	m.Handle("POST /deliveries/{id}/retry", u.form(u.writer(u.handleRetryOne)))
	m.Handle("POST /retry", u.form(u.writer(u.handleRetryBatch)))
	m.Handle("GET /live", u.data(u.handleLive))

	m.Handle("/", u.page(func(w http.ResponseWriter, r *http.Request, s *session) error {
		return errPageNotFound
	}))
}
