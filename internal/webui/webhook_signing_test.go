package webui

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/hookd/hookd"
)

func TestWebhookStandardSigningOption(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	ctx := context.Background()

	wantContains(t, "new form", b.get(t, "/webhooks/new").body, `name="standardSigning"`)
	form := hookForm("std")
	form.Set("standardSigning", "on")
	form.Set("secret", hookd.NewStandardSecret())
	wantRedirect(t, "create", b.submit(t, "/webhooks/new", "/webhooks", form), "/webhooks")
	w, err := e.store.WebhookFind(ctx, "std", "https://receiver.example/std")
	if err != nil {
		t.Fatal(err)
	}
	if !w.StandardSigning {
		t.Fatalf("created with the option checked: got standardSigning false")
	}

	path := fmt.Sprintf("/webhooks/%d", w.ID)
	wantContains(t, "edit form", b.get(t, path+"/edit").body, `id="standard-signing" checked`)
	form.Set("secret", "") // keep
	form.Del("standardSigning")
	wantRedirect(t, "save unchecked", b.submit(t, path+"/edit", path, form), "/webhooks")
	if w, _ = e.store.WebhookGet(ctx, w.ID); w.StandardSigning {
		t.Errorf("saved with the option unchecked: got standardSigning true")
	}

	bad := hookForm("bad")
	bad.Set("secret", "whsec_dG9vLXNob3J0LWtleQ==")
	res := b.submit(t, "/webhooks/new", "/webhooks", bad)
	wantStatus(t, "short whsec secret", res, http.StatusBadRequest)
	wantContains(t, "short whsec secret", res.body, "base64 of at least 24 random bytes")
	wantNotContains(t, "short whsec secret", res.body, "dG9vLXNob3J0LWtleQ")
}
