package webui

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd"
)

func TestWebhookStandardSigningOption(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	form := hookForm("std")
	form.Set("secret", hookd.NewStandardSecret())
	wantFormOption(t, e, b, form, "standardSigning", "standard-signing", func(w *hookd.Webhook) bool { return w.StandardSigning })

	bad := hookForm("bad")
	bad.Set("secret", "whsec_dG9vLXNob3J0LWtleQ==")
	res := b.submit(t, "/webhooks/new", "/webhooks", bad)
	wantStatus(t, "short whsec secret", res, http.StatusBadRequest)
	wantContains(t, "short whsec secret", res.body, "base64 of at least 24 random bytes")
	wantNotContains(t, "short whsec secret", res.body, "dG9vLXNob3J0LWtleQ")
}
