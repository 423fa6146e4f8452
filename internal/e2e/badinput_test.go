package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/servertest"
)

// TestBadInput checks that wrong requests get a 4xx in the DocSpace error shape with a message
// a person can act on, and never a 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	rc := newReceiver(t, nil)
	var w webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "ok", "uri": rc.URL, "secretKey": "a-good-secret", "enabled": true}, &w)

	cases := []struct {
		name        string
		method      string
		path        string
		body        any
		wantStatus  int
		wantMessage string // a part of error.message, case-insensitive
	}{
		{"MalformedJSON", "POST", "/api/2.0/settings/webhook", `{"name": "x",`, 400, "json"},
		{"UnknownTriggerName", "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.exploded", "payload": map[string]any{}}, 400, "trigger"},
		{"UnknownTriggerBits", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": rc.URL, "secretKey": "a-good-secret", "triggers": int64(1) << 40}, 400, "trigger"},
		{"CountZero", "GET", "/api/2.0/settings/webhooks/log?count=0", nil, 400, "count"},
		{"Count101", "GET", "/api/2.0/settings/webhooks/log?count=101", nil, 400, "count"},
		{"GroupStatus32", "GET", "/api/2.0/settings/webhooks/log?groupStatus=32", nil, 400, "groupStatus"},
		{"GroupStatusText", "GET", "/api/2.0/settings/webhooks/log?groupStatus=Not%20sent", nil, 400, "groupStatus"},
		{"ConfigIDNotInteger", "GET", "/api/2.0/settings/webhooks/log?configId=abc", nil, 400, "configId"},
		{"StartIndexNegative", "GET", "/api/2.0/settings/webhooks/log?startIndex=-1", nil, 400, "startIndex"},
		{"DateUnreadable", "GET", "/api/2.0/settings/webhooks/log?deliveryFrom=yesterday", nil, 400, "deliveryFrom"},
		{"TriggerCombinedMask", "GET", "/api/2.0/settings/webhooks/log?trigger=384", nil, 400, "trigger"},
		{"RetryIDNotInteger", "PUT", "/api/2.0/settings/webhook/abc/retry", nil, 404, ""},
		{"RetryIDZero", "PUT", "/api/2.0/settings/webhook/0/retry", nil, 400, "id"},
		{"RetryUnknownID", "PUT", "/api/2.0/settings/webhook/987654/retry", nil, 404, "could not be found"},
		{"DeleteUnknown", "DELETE", "/api/2.0/settings/webhook/987654", nil, 404, "could not be found"},
		{"URLNotHTTP", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": "ftp://example.com/hook", "secretKey": "a-good-secret"}, 400, "scheme"},
		{"URLRelative", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": "/just/a/path", "secretKey": "a-good-secret"}, 400, "url"},
		{"URLPrivateAddress", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": "http://10.1.2.3/hook", "secretKey": "a-good-secret"}, 400, "private"},
		{"URLLinkLocal", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": "http://169.254.169.254/latest", "secretKey": "a-good-secret"}, 400, ""},
		{"NameMissing", "POST", "/api/2.0/settings/webhook", map[string]any{"uri": rc.URL, "secretKey": "a-good-secret"}, 400, "name"},
		{"SecretMissing", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": rc.URL}, 400, "secret"},
		{"SecretTooShort", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": rc.URL, "secretKey": "short"}, 400, "secret"},
		{"Duplicate", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "ok", "uri": rc.URL, "secretKey": "a-good-secret"}, 400, "already exists"},
		{"UpdateUnknown", "PUT", "/api/2.0/settings/webhook", map[string]any{"id": 987654, "name": "x", "uri": rc.URL}, 404, "could not be found"},
		{"TriggersWrongType", "POST", "/api/2.0/settings/webhook", map[string]any{"name": "x", "uri": rc.URL, "secretKey": "a-good-secret", "triggers": "lots"}, 400, "triggers"},
		{"PublishWithoutPayload", "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created"}, 400, "payload"},
		{"PublishCombinedTrigger", "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": 384, "payload": 1}, 400, "trigger"},
		{"OversizedBody", "POST", "/api/2.0/webhooks/events", `{"trigger":"file.created","payload":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"BatchRetryWrongShape", "PUT", "/api/2.0/settings/webhook/retry", `{"ids":"1,2"}`, 400, "ids"},
		{"UnknownRoute", "GET", "/api/2.0/settings/webhook/nope/nope", nil, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, env := api.do(tc.method, tc.path, tc.body)
			if code != tc.wantStatus {
				msg := ""
				if env.Error != nil {
					msg = env.Error.Message
				}
				t.Fatalf("%s %s: got status %d (%q), want %d", tc.method, tc.path, code, msg, tc.wantStatus)
			}
			if env.Status != 1 || env.Error == nil || env.Error.Message == "" {
				t.Fatalf("error shape: got status %d, error %+v; want status 1 and a message", env.Status, env.Error)
			}
			if !strings.Contains(strings.ToLower(env.Error.Message), strings.ToLower(tc.wantMessage)) {
				t.Errorf("message: got %q, want it to mention %q", env.Error.Message, tc.wantMessage)
			}
		})
	}

	t.Run("NoKeyIs401", func(t *testing.T) {
		anon := &apiClient{t: t, url: env.URL}
		code, e := anon.do("GET", "/api/2.0/settings/webhook", nil)
		if code != 401 || e.Status != 1 {
			t.Errorf("no key: got %d, status %d; want 401, 1", code, e.Status)
		}
	})
	t.Run("ReadKeyCannotWrite", func(t *testing.T) {
		ro := &apiClient{t: t, url: env.URL, key: env.NewKey(t, "admin", "*:read")}
		ro.ok(200, "GET", "/api/2.0/settings/webhook", nil, nil)
		code, _ := ro.do("PUT", fmt.Sprintf("/api/2.0/settings/webhook/%d/retry", 1), nil)
		if code != 403 {
			t.Errorf("read key PUT: got %d, want 403", code)
		}
	})
	t.Run("UserSeesOnlyOwnWebhooks", func(t *testing.T) {
		user := &apiClient{t: t, url: env.URL, key: env.NewKey(t, "user", "*:write")}
		var list []struct{ Configs webhookDTO }
		user.ok(200, "GET", "/api/2.0/settings/webhook", nil, &list)
		if len(list) != 0 {
			t.Errorf("user listing: got %d webhooks of another user, want 0", len(list))
		}
		code, _ := user.do("DELETE", fmt.Sprintf("/api/2.0/settings/webhook/%d", w.ID), nil)
		if code != 403 {
			t.Errorf("user deleting admin's webhook: got %d, want 403", code)
		}
	})
}
