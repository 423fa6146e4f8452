package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	revoked := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", nil)
	if err := f.store.KeyRevoke(f.ctx, revoked.key.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	soon := f.clock.Now().Add(time.Hour)
	expiring := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", &soon)
	past := f.clock.Now().Add(-time.Second)
	expired := f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", &past)

	tests := []struct {
		name   string
		header string
		msg    string
	}{
		{"NoHeader", "", "Authentication required"},
		{"BasicScheme", "Basic dXNlcjpwYXNz", "Authentication required"},
		{"BearerWithoutToken", "Bearer ", "Authentication required"},
		{"UnknownKey", "Bearer " + hookd.NewKeySecret(), "not valid"},
		{"KeyWithoutBearer", f.admin.token, "Authentication required"},
		{"RevokedKey", "Bearer " + revoked.token, "revoked"},
		{"ExpiredKey", "Bearer " + expired.token, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, route := range []struct{ method, path string }{
				{"GET", "/api/2.0/settings/webhook"},
				{"GET", "/api/2.0/settings/webhook/triggers"},
				{"PUT", "/api/2.0/settings/webhook/retry"},
				{"GET", "/api/2.0/webhooks/deliveries/1/attempts"},
			} {
				req, err := http.NewRequest(route.method, f.srv.URL+route.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				a := f.send(req)
				a.fails(t, 401, tt.msg)
				if got := a.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("%s %s: got WWW-Authenticate %q, want Bearer", route.method, route.path, got)
				}
			}
		})
	}

	t.Run("KeyExpiresWithClock", func(t *testing.T) {
		// Not parallel: it runs before the parallel subtests resume, and moving the clock
		// forward changes none of their outcomes.
		f.do(&expiring, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		f.clock.Advance(2 * time.Hour)
		f.do(&expiring, "GET", "/api/2.0/settings/webhook", "").fails(t, 401, "expired")
	})
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	userHook := f.createWebhook(&f.user, "user-hook", "https://example.com/user", hookd.Trigger(128), "")
	adminHook := f.createWebhook(&f.admin, "admin-hook", "https://example.com/admin", 0, "")
	pub := f.publish("128", `{"id":1}`)
	var userDelivery, adminDelivery int64
	for _, d := range pub.Deliveries {
		switch d.ConfigID {
		case userHook.ID:
			userDelivery = d.ID
		case adminHook.ID:
			adminDelivery = d.ID
		}
	}
	if userDelivery == 0 || adminDelivery == 0 {
		t.Fatalf("got deliveries %+v, want one per webhook", pub.Deliveries)
	}

	t.Run("ReadKeyMayOnlyGet", func(t *testing.T) {
		t.Parallel()
		f.do(&f.adminRead, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, nil)
		f.do(&f.adminRead, "GET", "/api/2.0/settings/webhooks/log", "").ok(t, 200, nil)
		f.do(&f.adminRead, "GET", "/api/2.0/webhooks/deliveries/"+itoa(adminDelivery)+"/attempts", "").ok(t, 200, nil)
		f.do(&f.userRead, "GET", "/api/2.0/settings/webhook/triggers", "").ok(t, 200, nil)
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/api/2.0/settings/webhook", `{"name":"x","uri":"https://example.com/x","secretKey":"s3cret-key"}`},
			{"PUT", "/api/2.0/settings/webhook", `{"id":1,"name":"x","uri":"https://example.com/x"}`},
			{"PUT", "/api/2.0/settings/webhook/enable", `{"id":1,"enabled":true}`},
			{"DELETE", "/api/2.0/settings/webhook/" + itoa(adminHook.ID), ""},
			{"PUT", "/api/2.0/settings/webhook/" + itoa(adminDelivery) + "/retry", ""},
			{"PUT", "/api/2.0/settings/webhook/retry", `{"ids":[1]}`},
			{"POST", "/api/2.0/webhooks/events", `{"trigger":128,"payload":{}}`},
		} {
			f.do(&f.adminRead, r.method, r.path, r.body).fails(t, 403, "read-only")
		}
	})

	t.Run("UserCannotTouchOthersWebhook", func(t *testing.T) {
		t.Parallel()
		id := itoa(adminHook.ID)
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook", `{"id":`+id+`,"name":"stolen","uri":"https://example.com/s","enabled":true}`).fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+id+`,"enabled":false}`).fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.user, "DELETE", "/api/2.0/settings/webhook/"+id, "").fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.user2, "DELETE", "/api/2.0/settings/webhook/"+itoa(userHook.ID), "").fails(t, 403, hookd.MessageAccessDenied)
		got, err := f.store.WebhookGet(f.ctx, adminHook.ID)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got.Name != "admin-hook" || !got.Enabled {
			t.Errorf("got webhook %q enabled=%v, want it untouched", got.Name, got.Enabled)
		}
	})

	t.Run("UserCannotSeeOthersDelivery", func(t *testing.T) {
		t.Parallel()
		f.do(&f.user, "PUT", "/api/2.0/settings/webhook/"+itoa(adminDelivery)+"/retry", "").fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.user, "GET", "/api/2.0/webhooks/deliveries/"+itoa(adminDelivery)+"/attempts", "").fails(t, 403, hookd.MessageAccessDenied)
		f.do(&f.userRead, "GET", "/api/2.0/webhooks/deliveries/"+itoa(userDelivery)+"/attempts", "").ok(t, 200, nil)
		// The user sees its own webhook's deliveries only (an admin may add retries of them
		// meanwhile), and userId cannot widen that view.
		for _, q := range []string{"", "?userId=" + f.admin.key.UserID} {
			var rows []logRow
			a := f.do(&f.user, "GET", "/api/2.0/settings/webhooks/log"+q, "").ok(t, 200, &rows)
			if *a.Total != int64(len(rows)) || !containsRow(rows, userDelivery) {
				t.Errorf("log%s: got %d rows, total %d, want all of them with %d among them", q, len(rows), *a.Total, userDelivery)
			}
			for _, r := range rows {
				if r.ConfigID != userHook.ID {
					t.Errorf("log%s: got row %d of webhook %d, want only webhook %d", q, r.ID, r.ConfigID, userHook.ID)
				}
			}
		}
		ids, _ := f.logIDs(&f.user2, "")
		if len(ids) != 0 {
			t.Errorf("got user2 log %v, want none", ids)
		}
	})

	t.Run("UserListsOwnWebhooksOnly", func(t *testing.T) {
		t.Parallel()
		var items []struct{ Configs webhookDTO }
		f.do(&f.user, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
		if len(items) != 1 || items[0].Configs.ID != userHook.ID {
			t.Errorf("got %+v, want only webhook %d", items, userHook.ID)
		}
		f.do(&f.admin, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &items)
		if len(items) < 2 {
			t.Errorf("got %d webhooks for the admin, want all (at least 2)", len(items))
		}
	})

	t.Run("OnlyAdminWriterPublishes", func(t *testing.T) {
		t.Parallel()
		f.do(&f.user, "POST", "/api/2.0/webhooks/events", `{"trigger":128,"payload":{}}`).fails(t, 403, "admin")
	})

	t.Run("AdminManagesUsersWebhook", func(t *testing.T) {
		t.Parallel()
		var w webhookDTO
		f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/enable", `{"id":`+itoa(userHook.ID)+`,"enabled":true}`).ok(t, 200, &w)
		if w.ModifiedBy == nil || w.ModifiedBy.ID != f.admin.key.UserID {
			t.Errorf("got modifiedBy %+v, want the admin %s", w.ModifiedBy, f.admin.key.UserID)
		}
		var row logRow
		f.do(&f.admin, "PUT", "/api/2.0/settings/webhook/"+itoa(userDelivery)+"/retry", "").ok(t, 200, &row)
		if row.RetryOf != userDelivery {
			t.Errorf("got retryOf %d, want %d", row.RetryOf, userDelivery)
		}
	})
}

func containsRow(rows []logRow, id int64) bool {
	for _, r := range rows {
		if r.ID == id {
			return true
		}
	}
	return false
}
