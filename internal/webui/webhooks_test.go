package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

// hookForm is a valid create form; tests change one field at a time.
func hookForm(name string) url.Values {
	return url.Values{
		"name": {name}, "uri": {"https://receiver.example/" + name}, "secret": {"s3cret-value-" + name},
		"ssl": {"on"}, "enabled": {"on"}, "scope": {"all"},
	}
}

func TestWebhookCreate(t *testing.T) {
	t.Parallel()

	t.Run("StoresForm", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
		form := hookForm("files")
		form.Set("scope", "some")
		form["trigger"] = []string{"128", "256"} // file.created, file.uploaded
		form.Set("targetId", "42")
		form.Del("ssl")
		wantRedirect(t, "create", b.submit(t, "/webhooks/new", "/webhooks", form), "/webhooks")
		got, err := e.store.WebhookFind(context.Background(), "files", "https://receiver.example/files")
		if err != nil {
			t.Fatal(err)
		}
		want := hookd.Webhook{Name: "files", URI: "https://receiver.example/files", Secret: "s3cret-value-files",
			Enabled: true, SSL: false, Triggers: 128 | 256, TargetID: "42", CreatedBy: k.UserID}
		if got.Name != want.Name || got.Secret != want.Secret || got.Enabled != want.Enabled || got.SSL != want.SSL ||
			got.Triggers != want.Triggers || got.TargetID != want.TargetID || got.CreatedBy != want.CreatedBy {
			t.Fatalf("stored webhook: got %+v, want %+v", got, want)
		}
		list := b.get(t, "/webhooks")
		wantContains(t, "list after create", list.body, `Webhook &#34;files&#34; created.`)
		wantContains(t, "list after create", list.body, "file.created, file.uploaded")
		wantNotContains(t, "list after create", list.body, "s3cret-value-files")
		wantNotContains(t, "notice shown once", b.get(t, "/webhooks").body, "created.")
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		for _, tc := range []struct {
			name   string
			change func(url.Values)
			status int
			want   string
		}{
			{"NoName", func(f url.Values) { f.Set("name", " ") }, 400, "The name is required."},
			{"LongName", func(f url.Values) { f.Set("name", strings.Repeat("n", 51)) }, 400, "at most 50 characters"},
			{"NoURL", func(f url.Values) { f.Del("uri") }, 400, "The payload URL is required."},
			{"RelativeURL", func(f url.Values) { f.Set("uri", "/hooks") }, 400, "absolute http or https URL"},
			{"FTP", func(f url.Values) { f.Set("uri", "ftp://r.example/") }, 400, "Invalid URL scheme"},
			{"HTTPWithSSL", func(f url.Values) { f.Set("uri", "http://r.example/") }, 400, "HTTPS is required"},
			{"NoSecret", func(f url.Values) { f.Del("secret") }, 400, "The secret key is required."},
			{"ShortSecret", func(f url.Values) { f.Set("secret", "short") }, 400, "8 to 50 printable ASCII"},
			{"NoTrigger", func(f url.Values) { f.Set("scope", "some") }, 400, "Pick at least one trigger"},
			{"UnknownTrigger", func(f url.Values) { f.Set("scope", "some"); f.Set("trigger", "3") }, 400, "Unknown trigger"},
		} {
			form := hookForm("bad")
			tc.change(form)
			res := b.submit(t, "/webhooks/new", "/webhooks", form)
			wantStatus(t, tc.name, res, tc.status)
			wantContains(t, tc.name, res.body, tc.want)
			wantContains(t, tc.name, res.body, `id="webhook-form"`) // the form again, to fix
			if s := form.Get("secret"); len(s) >= 8 {
				wantNotContains(t, tc.name, res.body, s)
			}
		}
		hooks, _ := e.store.WebhookList(context.Background(), hookd.WebhookFilter{})
		if len(hooks) != 0 {
			t.Fatalf("got %d webhooks after refused forms, want 0", len(hooks))
		}
	})

	t.Run("RefusesDuplicate", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		wantRedirect(t, "first", b.submit(t, "/webhooks/new", "/webhooks", hookForm("dup")), "/webhooks")
		res := b.submit(t, "/webhooks/new", "/webhooks", hookForm("dup"))
		wantStatus(t, "second", res, http.StatusConflict)
		wantContains(t, "second", res.body, "Webhook with the same name and payload URL already exists")
	})

	t.Run("ShowsCheckURLMessage", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		e.checkErr.Store(hookd.Errorf(hookd.EINVALID, "URL resolves to a blacklisted IP address"))
		b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		res := b.submit(t, "/webhooks/new", "/webhooks", hookForm("private"))
		wantStatus(t, "blocked URL", res, http.StatusBadRequest)
		wantContains(t, "blocked URL", res.body, "URL resolves to a blacklisted IP address")
	})
}

func TestWebhookEdit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	hook := e.webhook(t, k, "orig")
	path := fmt.Sprintf("/webhooks/%d", hook.ID)
	edit := path + "/edit"
	ctx := context.Background()

	page := b.get(t, edit)
	wantStatus(t, "edit form", page, http.StatusOK)
	wantContains(t, "edit form", page.body, `value="orig"`)
	wantNotContains(t, "edit form", page.body, hook.Secret)

	form := hookForm("renamed")
	form.Set("secret", "") // keep
	form.Del("enabled")
	wantRedirect(t, "save without secret", b.submit(t, edit, path, form), "/webhooks")
	got, err := e.store.WebhookGet(ctx, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.Secret != hook.Secret || got.Enabled || got.ModifiedBy != k.UserID {
		t.Fatalf("after edit: got name %q, secret kept %v, enabled %v, modified by %q; want renamed, true, false, %q",
			got.Name, got.Secret == hook.Secret, got.Enabled, got.ModifiedBy, k.UserID)
	}

	form.Set("secret", "a-new-secret-value")
	wantRedirect(t, "save with secret", b.submit(t, edit, path, form), "/webhooks")
	if got, _ := e.store.WebhookGet(ctx, hook.ID); got.Secret != "a-new-secret-value" {
		t.Fatal("the new secret was not stored")
	}

	form.Set("secret", "bad secret with spaces")
	res := b.submit(t, edit, path, form)
	wantStatus(t, "bad secret", res, http.StatusBadRequest)
	wantNotContains(t, "bad secret", res.body, "bad secret with spaces")

	wantStatus(t, "edit missing", b.get(t, "/webhooks/999/edit"), http.StatusNotFound)
	wantStatus(t, "edit non-numeric", b.get(t, "/webhooks/abc/edit"), http.StatusNotFound)
}

func TestWebhookEnable(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	hook := e.webhook(t, k, "toggle")
	path := fmt.Sprintf("/webhooks/%d/enable", hook.ID)
	ctx := context.Background()

	wantRedirect(t, "disable", b.submit(t, "/webhooks", path, url.Values{"enabled": {"false"}}), "/webhooks")
	if got, _ := e.store.WebhookGet(ctx, hook.ID); got.Enabled {
		t.Fatal("still enabled after switching off")
	}
	list := b.get(t, "/webhooks")
	wantContains(t, "list", list.body, `Webhook &#34;toggle&#34; disabled.`)
	wantContains(t, "list", list.body, `aria-checked="false"`)

	e.checkErr.Store(hookd.Errorf(hookd.EINVALID, "URL host is in the blacklist"))
	wantRedirect(t, "enable blocked", b.submit(t, "/webhooks", path, url.Values{"enabled": {"true"}}), "/webhooks")
	wantContains(t, "list", b.get(t, "/webhooks").body, "stays disabled: URL host is in the blacklist")
	if got, _ := e.store.WebhookGet(ctx, hook.ID); got.Enabled {
		t.Fatal("enabled although the URL check failed")
	}

	e.checkErr.Store(nil)
	wantRedirect(t, "enable", b.submit(t, "/webhooks", path, url.Values{"enabled": {"true"}}), "/webhooks")
	if got, _ := e.store.WebhookGet(ctx, hook.ID); !got.Enabled {
		t.Fatal("still disabled after switching on")
	}
}

func TestWebhookDelete(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	hook := e.webhook(t, k, "gone")
	e.publish(t, 1<<7)
	path := fmt.Sprintf("/webhooks/%d/delete", hook.ID)

	confirm := b.get(t, path)
	wantStatus(t, "confirmation", confirm, http.StatusOK)
	wantContains(t, "confirmation", confirm.body, "history is deleted with it")
	if _, err := e.store.WebhookGet(context.Background(), hook.ID); err != nil {
		t.Fatalf("the confirmation page deleted the webhook: %v", err)
	}
	wantRedirect(t, "delete", b.submit(t, path, path, nil), "/webhooks")
	if _, err := e.store.WebhookGet(context.Background(), hook.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
		t.Fatalf("after delete: got %v, want not found", err)
	}
	wantContains(t, "list", b.get(t, "/webhooks").body, `Webhook &#34;gone&#34; deleted.`)
	wantStatus(t, "delete again", b.submit(t, "/webhooks", path, nil), http.StatusNotFound)
}
