package httpapi

// routes registers every route of the API. The DocSpace routes keep DocSpace's paths
// (note the plural "webhooks/log"); hookd's extensions live under /api/2.0/webhooks.
// Everything under /api/ needs an API key; the health checks do not.
func (a *API) routes() {
	m := a.mux

	// DocSpace webhook configs (spec §1.1–1.5).
	m.Handle("GET /api/2.0/settings/webhook", a.handle(a.auth(a.handleWebhookList)))
	m.Handle("POST /api/2.0/settings/webhook", a.handle(a.auth(a.handleWebhookCreate)))
	m.Handle("PUT /api/2.0/settings/webhook", a.handle(a.auth(a.handleWebhookUpdate)))
	m.Handle("PUT /api/2.0/settings/webhook/enable", a.handle(a.auth(a.handleWebhookEnable)))
	m.Handle("DELETE /api/2.0/settings/webhook/{id}", a.handle(a.auth(a.handleWebhookDelete)))

	// DocSpace delivery log and manual retry (spec §1.6–1.8).
	m.Handle("GET /api/2.0/settings/webhooks/log", a.handle(a.auth(a.handleLogList)))
	m.Handle("PUT /api/2.0/settings/webhook/{id}/retry", a.handle(a.auth(a.rateLimited(a.handleRetryOne))))
	m.Handle("PUT /api/2.0/settings/webhook/retry", a.handle(a.auth(a.rateLimited(a.handleRetryBatch))))

	// DocSpace trigger list (spec §1.9, v3.7 shape).
	m.Handle("GET /api/2.0/settings/webhook/triggers", a.handle(a.auth(a.handleTriggerList)))

	// hookd extensions.
	m.Handle("POST /api/2.0/webhooks/events", a.handle(a.auth(a.handleEventPublish)))
	m.Handle("POST /api/2.0/webhooks/events/batch", a.handleBody(a.maxBatchBody, a.auth(a.handleEventPublishBatch)))
	m.Handle("GET /api/2.0/webhooks/deliveries/{id}/attempts", a.handle(a.auth(a.handleAttemptList)))
	m.Handle("PUT /api/2.0/webhooks/{id}/secret", a.handle(a.auth(a.handleWebhookSecretRotate)))
	m.Handle("POST /api/2.0/webhooks/{id}/pause", a.handle(a.auth(a.handleWebhookPause)))
	m.Handle("POST /api/2.0/webhooks/{id}/resume", a.handle(a.auth(a.handleWebhookResume)))
	m.Handle("POST /api/2.0/webhooks/replays", a.handle(a.auth(a.handleReplayCreate)))
	m.Handle("GET /api/2.0/webhooks/replays", a.handle(a.auth(a.handleReplayList)))
	m.Handle("GET /api/2.0/webhooks/replays/{id}", a.handle(a.auth(a.handleReplayGet)))
	m.Handle("GET /api/2.0/webhooks/replays/{id}/items", a.handle(a.auth(a.handleReplayItems)))
	m.Handle("POST /api/2.0/webhooks/replays/{id}/cancel", a.handle(a.auth(a.handleReplayCancel)))
	m.Handle("DELETE /api/2.0/webhooks/replays/{id}", a.handle(a.auth(a.handleReplayCancel)))
	m.Handle("GET /healthz", a.handle(a.handleHealthz))
	m.Handle("GET /readyz", a.handle(a.handleReadyz))
	m.Handle("GET /api/2.0/openapi.json", a.handle(a.handleOpenAPI))
}
