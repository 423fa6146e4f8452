package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// Create.
	var created webhookDTO
	a := f.do(&f.user, "POST", "/api/2.0/settings/webhook",
		`{"name":"CRM sync","uri":"https://hooks.example.com/docspace","secretKey":"first-secret","enabled":true,"ssl":true,"triggers":384,"targetId":"42"}`)
	a.ok(t, 200, &created)
	if strings.Contains(strings.ToLower(string(a.raw)), "secret") {
		t.Errorf("create answer mentions the secret: %s", a.raw)
	}
	if created.ID == 0 || created.Name != "CRM sync" || created.URI != "https://hooks.example.com/docspace" ||
		!created.Enabled || !created.SSL || created.Triggers != 384 || created.TargetID != "42" {
		t.Errorf("got %+v, want the fields sent", created)
	}
	if created.CreatedBy == nil || created.CreatedBy.ID != f.user.key.UserID {
		t.Errorf("got createdBy %+v, want {id: %s}", created.CreatedBy, f.user.key.UserID)
	}
	if created.CreatedOn != "2026-06-30T10:00:00Z" {
		t.Errorf("got createdOn %q, want 2026-06-30T10:00:00Z", created.CreatedOn)
	}
	if created.ModifiedBy != nil || created.ModifiedOn != "" || created.DisabledReason != "" {
		t.Errorf("got modified %+v %q reason %q, want them omitted", created.ModifiedBy, created.ModifiedOn, created.DisabledReason)
	}

	// List: {configs, status}.
	var items []struct {
		Configs webhookDTO
		Status  *int
	}
	f.do(&f.user, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
	if len(items) != 1 || items[0].Configs.ID != created.ID || items[0].Status == nil || *items[0].Status != 0 {
		t.Fatalf("got list %+v, want the one webhook with status 0", items)
	}

	// Update is a full replacement: enabled omitted disables, empty secret keeps the old one.
	f.clock.Advance(time.Minute)
	var updated webhookDTO
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook",
		`{"id":`+itoa(created.ID)+`,"name":"CRM sync 2","uri":"https://hooks.example.com/v2","secretKey":"","triggers":128}`).ok(t, 200, &updated)
	if updated.Name != "CRM sync 2" || updated.URI != "https://hooks.example.com/v2" || updated.Enabled || updated.SSL ||
		updated.Triggers != 128 || updated.TargetID != "" {
		t.Errorf("got %+v, want a full replacement (disabled, ssl off, no targetId)", updated)
	}
	if updated.ModifiedBy == nil || updated.ModifiedBy.ID != f.user.key.UserID || updated.ModifiedOn != "2026-06-30T10:01:00Z" {
		t.Errorf("got modified %+v at %q, want the user at 10:01", updated.ModifiedBy, updated.ModifiedOn)
	}
	stored, err := f.store.WebhookGet(f.ctx, created.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if stored.Secret != "first-secret" {
		t.Errorf("an empty secretKey changed the stored secret")
	}
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook",
		`{"id":`+itoa(created.ID)+`,"name":"CRM sync 2","uri":"https://hooks.example.com/v2","secretKey":"second-secret","enabled":true}`).ok(t, 200, nil)
	if stored, _ = f.store.WebhookGet(f.ctx, created.ID); stored.Secret != "second-secret" || !stored.Enabled {
		t.Errorf("got enabled=%v and the old secret, want the new secret stored and enabled", stored.Enabled)
	}

	// Enable and disable; name and uri may be omitted.
	var toggled webhookDTO
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(created.ID)+`,"enabled":false}`).ok(t, 200, &toggled)
	if toggled.Enabled {
		t.Errorf("got enabled after disabling")
	}
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"Id":`+itoa(created.ID)+`,"Name":"ignored","Uri":"ignored","Enabled":true}`).ok(t, 200, &toggled)
	if !toggled.Enabled || toggled.Name != "CRM sync 2" {
		t.Errorf("got %+v, want enabled with the stored name", toggled)
	}
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(created.ID)+`}`).fails(t, 400, "enabled")
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"enabled":true}`).fails(t, 400, "id")
	f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":999999,"enabled":true}`).fails(t, 404, hookd.MessageNotFound)

	// Delete returns the deleted config; a second delete finds nothing.
	var deleted webhookDTO
	f.do(&f.user, "DELETE", "/api/2.0/settings/webhook/"+itoa(created.ID), "").ok(t, 200, &deleted)
	if deleted.ID != created.ID || deleted.Name != "CRM sync 2" {
		t.Errorf("got deleted %+v, want webhook %d", deleted, created.ID)
	}
	f.do(&f.user, "DELETE", "/api/2.0/settings/webhook/"+itoa(created.ID), "").fails(t, 404, hookd.MessageNotFound)
	f.do(&f.user, "DELETE", "/api/2.0/settings/webhook/abc", "").fails(t, 404, hookd.MessageNotFound)
}

func TestWebhookValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createWebhook(&f.admin, "taken", "https://example.com/taken", 0, "")

	valid := map[string]any{"name": "ok", "uri": "https://example.com/ok", "secretKey": "s3cret-key", "enabled": true}
	with := func(k string, v any) string {
		m := map[string]any{}
		for key, val := range valid {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return jsonBody(t, m)
	}
	tests := []struct {
		name string
		key  *caller
		body string
		code int
		msg  string
	}{
		{"NameMissing", &f.admin, with("name", nil), 400, "name is required"},
		{"NameBlank", &f.admin, with("name", "   "), 400, "name is required"},
		{"NameTooLong", &f.admin, with("name", strings.Repeat("n", 51)), 400, "at most 50"},
		{"URIMissing", &f.admin, with("uri", nil), 400, "uri is required"},
		{"URIRelative", &f.admin, with("uri", "/hooks"), 400, "absolute http or https"},
		{"URINoHost", &f.admin, with("uri", "https://"), 400, "absolute http or https"},
		{"URIFTP", &f.admin, with("uri", "ftp://example.com/drop"), 400, "Invalid URL scheme"},
		{"HTTPWithSSL", &f.admin, jsonBody(t, map[string]any{"name": "n", "uri": "http://example.com/x", "ssl": true, "secretKey": "s3cret-key"}), 400, "HTTPS is required"},
		{"SecretMissing", &f.admin, with("secretKey", nil), 400, "secretKey is required"},
		{"SecretShort", &f.admin, with("secretKey", "short"), 400, "8 to 50 printable ASCII"},
		{"SecretLong", &f.admin, with("secretKey", strings.Repeat("s", 51)), 400, "8 to 50 printable ASCII"},
		{"SecretSpace", &f.admin, with("secretKey", "has a space"), 400, "8 to 50 printable ASCII"},
		{"SecretNonASCII", &f.admin, with("secretKey", "pässwörter"), 400, "8 to 50 printable ASCII"},
		{"TargetIDTooLong", &f.admin, with("targetId", strings.Repeat("t", 256)), 400, "at most 255"},
		{"UnknownTriggerBits", &f.admin, with("triggers", int64(1)<<36|128), 400, "Unknown trigger bits: 68719476736"},
		{"NegativeTriggers", &f.admin, with("triggers", -1), 400, "Unknown trigger bits"},
		{"TriggerNotAvailable", &f.user, with("triggers", 1), 400, "Trigger is not available"},
		{"AgentCreatedNotAvailable", &f.user, with("triggers", int64(1)<<31|128), 400, "Trigger is not available"},
		{"Duplicate", &f.user, jsonBody(t, map[string]any{"name": "taken", "uri": "https://example.com/taken", "secretKey": "s3cret-key"}), 400, "Webhook with the same name and payload URL already exists"},
		{"MalformedJSON", &f.admin, `{"name":"x",`, 400, "Malformed JSON body"},
		{"MalformedSyntax", &f.admin, `{"name" "x"}`, 400, "Malformed JSON body: invalid character"},
		{"TrailingData", &f.admin, `{"name":"x"} {}`, 400, "Malformed JSON body"},
		{"EmptyBody", &f.admin, "", 400, "Malformed JSON body"},
		{"NotAnObject", &f.admin, `[1,2]`, 400, "Malformed JSON body"},
		{"TriggersWrongType", &f.admin, with("triggers", "file.created"), 400, "triggers"},
		{"SSLWrongType", &f.admin, with("ssl", "yes"), 400, "ssl"},
		{"NameWrongType", &f.admin, with("name", 12), 400, "name"},
		{"SecretWrongType", &f.admin, with("secretKey", 987654321), 400, "secretKey has the wrong type: got number, want string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := f.do(tt.key, "POST", "/api/2.0/settings/webhook", tt.body).fails(t, tt.code, tt.msg)
			if strings.Contains(msg, "s3cret-key") || strings.Contains(msg, "has a space") || strings.Contains(msg, "987654321") {
				t.Errorf("message %q repeats the secret", msg)
			}
		})
	}

	t.Run("UserMayUseUserTriggers", func(t *testing.T) {
		t.Parallel()
		body := jsonBody(t, map[string]any{"name": "user-triggers", "uri": "https://example.com/u", "secretKey": "s3cret-key", "triggers": int64(1)<<32 | 4})
		f.do(&f.user, "POST", "/api/2.0/settings/webhook", body).ok(t, 200, nil)
	})

	t.Run("UpdateValidatesBeforeLookup", func(t *testing.T) {
		t.Parallel()
		hook := f.createWebhook(&f.admin, "mine", "https://example.com/mine", 0, "")
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook", `{"id":999999,"name":"","uri":"https://example.com/x"}`).fails(t, 400, "name is required")
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook", `{"id":999999,"name":"x","uri":"https://example.com/x"}`).fails(t, 404, hookd.MessageNotFound)
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook", `{"id":`+itoa(hook.ID)+`,"name":"x","uri":"https://example.com/x"}`).fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook", `{"name":"x","uri":"https://example.com/x"}`).fails(t, 400, "id is required")
		f.do(&f.admin, "PUT", "/api/2.0/settings/webhook", `{"id":`+itoa(hook.ID)+`,"name":"x","uri":"https://example.com/x","secretKey":"short"}`).fails(t, 400, "8 to 50")
	})
}

func TestWebhookCaseInsensitiveKeysAndWideMasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mask := int64(1)<<35 | int64(1)<<33 | int64(1)<<31 | 128
	var w webhookDTO
	a := f.do(&f.admin, "POST", "/api/2.0/settings/webhook",
		`{"NAME":"Loud","Uri":"https://example.com/loud","SecretKey":"s3cret-key","SSL":true,"Enabled":true,"TRIGGERS":`+itoa(mask)+`,"TargetID":"room-7"}`)
	a.ok(t, 200, &w)
	if w.Name != "Loud" || w.URI != "https://example.com/loud" || !w.SSL || !w.Enabled || w.Triggers != mask || w.TargetID != "room-7" {
		t.Errorf("got %+v, want every field read whatever its case", w)
	}
	if !strings.Contains(string(a.raw), `"triggers":`+itoa(mask)) {
		t.Errorf("got %s, want triggers as the exact number %d", a.raw, mask)
	}
	var items []struct{ Configs webhookDTO }
	f.do(&f.admin, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
	if len(items) != 1 || items[0].Configs.Triggers != mask {
		t.Errorf("got %+v, want mask %d to round-trip", items, mask)
	}
	stored, err := f.store.WebhookGet(f.ctx, w.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if stored.Secret != "s3cret-key" || stored.Triggers != hookd.Trigger(mask) {
		t.Errorf("got stored triggers %d, want %d and the secret from SecretKey", stored.Triggers, mask)
	}
}

func TestWebhookReceiverChecks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // the maps are shared with the server's goroutines
	blocked := map[string]bool{}
	var probed []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("got probe method %s, want HEAD", r.Method)
		}
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(receiver.Close)
	f := newFixture(t, func(c *httpapi.Config) {
		c.CheckURL = func(_ context.Context, uri string, ssl bool) error {
			u, _ := url.Parse(uri)
			mu.Lock()
			defer mu.Unlock()
			if blocked[u.Hostname()] {
				return hookd.Errorf(hookd.EINVALID, "URL host is in the blacklist")
			}
			return nil
		}
		c.HeadProbe = func(ctx context.Context, uri string, ssl bool) error {
			mu.Lock()
			probed = append(probed, uri)
			mu.Unlock()
			req, err := http.NewRequestWithContext(ctx, http.MethodHead, uri, nil)
			if err != nil {
				return err
			}
			resp, err := receiver.Client().Do(req)
			if err != nil {
				return hookd.Errorf(hookd.EINVALID, "Webhook URL is not available.")
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return hookd.Errorf(hookd.EINVALID, "Webhook URL is not available. HEAD request is not response 200 http status.")
			}
			return nil
		}
	})
	mu.Lock()
	blocked["blocked.example"] = true
	mu.Unlock()

	f.do(&f.admin, "POST", "/api/2.0/settings/webhook", `{"name":"b","uri":"https://blocked.example/x","secretKey":"s3cret-key"}`).fails(t, 400, "blacklist")
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook", `{"name":"d","uri":"`+receiver.URL+`/down","secretKey":"s3cret-key"}`).fails(t, 400, "HEAD request")
	hook := f.createWebhook(&f.admin, "up", receiver.URL+"/up", 0, "")
	mu.Lock()
	if len(probed) != 2 || probed[1] != receiver.URL+"/up" {
		t.Errorf("got probes %v, want the failed and the successful URL", probed)
	}
	mu.Unlock()

	// Enabling checks the stored URL again: the rules may have changed since.
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":false}`).ok(t, 200, nil)
	u, _ := url.Parse(receiver.URL)
	mu.Lock()
	blocked[u.Hostname()] = true
	mu.Unlock()
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":true}`).fails(t, 400, "blacklist")
	if stored, _ := f.store.WebhookGet(f.ctx, hook.ID); stored.Enabled {
		t.Errorf("got the webhook enabled despite a refused URL")
	}
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook", `{"id":`+itoa(hook.ID)+`,"name":"up","uri":"`+receiver.URL+`/up","enabled":true}`).fails(t, 400, "blacklist")
	// Disabling needs no check.
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(hook.ID)+`,"enabled":false}`).ok(t, 200, nil)
}
