package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestSignIn(t *testing.T) {
	t.Parallel()

	t.Run("RedirectsToSignInAndBack", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		secret, _ := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		b := e.browser(t)
		wantRedirect(t, "GET /history", b.get(t, "/history?status=failed"), "/signin?next=%2Fhistory%3Fstatus%3Dfailed")
		res := b.signIn(t, secret, "/history?status=failed")
		wantRedirect(t, "sign in", res, "/history?status=failed")
		wantStatus(t, "GET /history after sign-in", b.get(t, "/history?status=failed"), http.StatusOK)
	})

	t.Run("CookieHoldsNoSecret", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		secret, k := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		b := e.browser(t)
		b.signIn(t, secret, "")
		c := b.cookie("hookd_session")
		if c == nil {
			t.Fatal("no session cookie after sign-in")
		}
		parts := strings.Split(c.Value, ".")
		if len(parts) != 3 || parts[0] != fmt.Sprint(k.ID) {
			t.Fatalf("got cookie %q, want keyID.expiry.mac with key id %d", c.Value, k.ID)
		}
		if strings.Contains(c.Value, secret) || strings.Contains(c.Value, k.Hash) {
			t.Fatal("session cookie contains the key or its hash")
		}
		exp := time.Unix(mustInt(t, parts[1]), 0)
		if want := e.clock.Now().Add(sessionTTL); !exp.Equal(want.Truncate(time.Second)) {
			t.Fatalf("got session expiry %v, want %v", exp, want)
		}
	})

	t.Run("SetsHttpOnlyStrictCookie", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		secret, _ := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		b := e.browser(t)
		res := b.signIn(t, secret, "")
		var found bool
		for _, line := range res.header.Values("Set-Cookie") {
			if strings.HasPrefix(line, "hookd_session=") {
				found = true
				for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
					if !strings.Contains(line, attr) {
						t.Errorf("session cookie %q lacks %s", line, attr)
					}
				}
			}
		}
		if !found {
			t.Fatal("no session cookie set")
		}
	})

	t.Run("RefusesBadKeys", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		ctx := context.Background()
		revoked, rk := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		if err := e.store.KeyRevoke(ctx, rk.ID); err != nil {
			t.Fatal(err)
		}
		expired := hookd.NewKeySecret()
		past := e.clock.Now().Add(-time.Hour)
		if _, err := e.store.KeyCreate(ctx, &hookd.Key{Name: "old", Hash: hookd.HashKey(expired), Role: hookd.RoleAdmin, Scope: hookd.ScopeWrite, ExpiresOn: &past}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, secret, want string }{
			{"Unknown", hookd.NewKeySecret(), "The API key is not valid."},
			{"Empty", "", "Enter an API key"},
			{"Revoked", revoked, "The API key has been revoked."},
			{"Expired", expired, "The API key has expired."},
		} {
			res := e.browser(t).signIn(t, tc.secret, "")
			wantStatus(t, tc.name, res, http.StatusUnauthorized)
			wantContains(t, tc.name, res.body, tc.want)
			if tc.secret != "" {
				wantNotContains(t, tc.name, res.body, tc.secret)
			}
		}
	})

	t.Run("RefusesFormWithoutToken", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		secret, _ := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		b := e.browser(t)
		res := b.post(t, "/signin", url.Values{"key": {secret}, "csrf": {"forged"}})
		wantStatus(t, "sign-in without the form's cookie", res, http.StatusForbidden)
		if b.cookie("hookd_session") != nil {
			t.Fatal("got a session from a forged sign-in form")
		}
	})

	t.Run("RevokingEndsSession", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		wantStatus(t, "before revoke", b.get(t, "/webhooks"), http.StatusOK)
		if err := e.store.KeyRevoke(context.Background(), k.ID); err != nil {
			t.Fatal(err)
		}
		wantRedirect(t, "after revoke", b.get(t, "/webhooks"), "/signin?next=%2Fwebhooks&reason=revoked")
	})

	t.Run("SessionExpires", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		e.clock.Add(sessionTTL - time.Minute)
		wantStatus(t, "before expiry", b.get(t, "/webhooks"), http.StatusOK)
		e.clock.Add(2 * time.Minute)
		wantRedirect(t, "after expiry", b.get(t, "/webhooks"), "/signin?next=%2Fwebhooks&reason=expired")
	})

	t.Run("RefusesTamperedCookie", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, k := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
		c := b.cookie("hookd_session")
		parts := strings.Split(c.Value, ".")
		later := fmt.Sprint(mustInt(t, parts[1]) + 86400)
		_, other := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		for name, value := range map[string]string{
			"LongerExpiry": parts[0] + "." + later + "." + parts[2],
			"OtherKey":     fmt.Sprint(other.ID) + "." + parts[1] + "." + parts[2],
			"Garbage":      "x.y.z",
			"NoKey":        fmt.Sprint(k.ID+100) + "." + parts[1] + "." + parts[2],
		} {
			b2 := e.browser(t)
			u, _ := url.Parse(e.srv.URL)
			b2.c.Jar.SetCookies(u, []*http.Cookie{{Name: "hookd_session", Value: value, Path: "/"}})
			wantRedirect(t, name, b2.get(t, "/webhooks"), "/signin")
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, _ := e.signedIn(t, hookd.RoleUser, hookd.ScopeRead)
		wantRedirect(t, "sign out", b.submit(t, "/webhooks", "/signout", nil), "/signin?reason=signedout")
		wantRedirect(t, "after sign-out", b.get(t, "/webhooks"), "/signin")
	})

	t.Run("SignedInSkipsForm", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeRead)
		wantRedirect(t, "GET /signin", b.get(t, "/signin?next=/history"), "/history")
	})

	t.Run("NextStaysOnServer", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		secret, _ := e.newKey(t, hookd.RoleAdmin, hookd.ScopeWrite)
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
			wantRedirect(t, "next="+next, e.browser(t).signIn(t, secret, next), "/webhooks")
		}
	})
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	other, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	form := func(token string) url.Values {
		return url.Values{"csrf": {token}, "name": {"hook"}, "uri": {"https://r.example/"}, "secret": {"secret-1234"}, "scope": {"all"}}
	}
	for _, tc := range []struct{ name, token string }{
		{"Missing", ""},
		{"Wrong", "AAAA"},
		{"OtherSession", other.csrf(t, "/webhooks")},
	} {
		res := b.post(t, "/webhooks", form(tc.token))
		wantStatus(t, tc.name, res, http.StatusForbidden)
		wantContains(t, tc.name, res.body, "CSRF check failed")
	}

	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks", strings.NewReader(form(b.csrf(t, "/webhooks")).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site POST with a good token", b.do(t, req), http.StatusForbidden)

	hooks, err := e.store.WebhookList(context.Background(), hookd.WebhookFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 0 {
		t.Fatalf("got %d webhooks after refused forms, want 0", len(hooks))
	}
	wantRedirect(t, "good token", b.post(t, "/webhooks", form(b.csrf(t, "/webhooks"))), "/webhooks")
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	anon := e.browser(t)
	for _, path := range []string{"/signin", "/webhooks", "/history", "/assets/app.js"} {
		res := b.get(t, path)
		if path == "/signin" {
			res = anon.get(t, path)
		}
		wantStatus(t, path, res, http.StatusOK)
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: got CSP %q, want it to contain %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: got X-Content-Type-Options %q, want nosniff", path, got)
		}
	}
	res := b.get(t, "/webhooks")
	if strings.Contains(res.body, "<script>") || strings.Contains(res.body, " style=") {
		t.Error("page has inline script or style, which the CSP blocks")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	alice, ak := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	bob, bk := e.signedIn(t, hookd.RoleUser, hookd.ScopeWrite)
	admin, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeWrite)
	reader, _ := e.signedIn(t, hookd.RoleAdmin, hookd.ScopeRead)
	ah := e.webhook(t, ak, "alice-hook")
	bh := e.webhook(t, bk, "bob-hook")
	ds := e.publish(t, 1<<7) // file.created: both webhooks
	e.deliver(t, 500, "down")
	var aliceDelivery int64
	for _, d := range ds {
		if d.WebhookID == ah.ID {
			aliceDelivery = d.ID
		}
	}
	// The subtests share one store and run in order, not in parallel: each checks that the
	// refused requests before it changed nothing.

	t.Run("ListShowsOwnWebhooks", func(t *testing.T) {
		res := bob.get(t, "/webhooks")
		wantContains(t, "bob's list", res.body, "bob-hook")
		wantNotContains(t, "bob's list", res.body, "alice-hook")
		res = admin.get(t, "/webhooks")
		wantContains(t, "admin's list", res.body, "bob-hook")
		wantContains(t, "admin's list", res.body, "alice-hook")
	})

	t.Run("HistoryShowsOwnDeliveries", func(t *testing.T) {
		res := bob.get(t, "/history")
		wantContains(t, "bob's history", res.body, "1 delivery")
		wantNotContains(t, "bob's history", res.body, fmt.Sprintf(`data-id="%d"`, aliceDelivery))
		wantContains(t, "admin's history", admin.get(t, "/history").body, "2 deliveries")
	})

	t.Run("OthersPagesDenied", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/webhooks/%d/history", ah.ID),
			fmt.Sprintf("/webhooks/%d/edit", ah.ID),
			fmt.Sprintf("/webhooks/%d/delete", ah.ID),
			fmt.Sprintf("/deliveries/%d", aliceDelivery),
			fmt.Sprintf("/deliveries/%d/raw?attempt=1&part=request", aliceDelivery),
		} {
			res := bob.get(t, path)
			wantStatus(t, "bob GET "+path, res, http.StatusForbidden)
			wantContains(t, "bob GET "+path, res.body, hookd.MessageAccessDenied)
		}
		wantStatus(t, "alice's own details", alice.get(t, fmt.Sprintf("/deliveries/%d", aliceDelivery)), http.StatusOK)
	})

	t.Run("OthersFormsDenied", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/webhooks/%d/enable", ah.ID),
			fmt.Sprintf("/webhooks/%d/pause", ah.ID),
			fmt.Sprintf("/webhooks/%d/resume", ah.ID),
			fmt.Sprintf("/webhooks/%d/delete", ah.ID),
			fmt.Sprintf("/deliveries/%d/retry", aliceDelivery),
		} {
			wantStatus(t, "bob POST "+path, bob.submit(t, "/webhooks", path, url.Values{"enabled": {"false"}}), http.StatusForbidden)
		}
		res := bob.submit(t, "/history", "/retry", url.Values{"sel": {fmt.Sprint(aliceDelivery)}, "return": {"/history"}})
		wantRedirect(t, "bob batch-retries alice's delivery", res, "/history")
		wantContains(t, "bob's notice", bob.get(t, "/history").body, "0 deliveries re-sent. 1 skipped")
		if got, err := e.store.WebhookGet(context.Background(), ah.ID); err != nil || !got.Enabled || got.State() != hookd.HealthHealthy {
			t.Fatalf("alice's webhook after bob's forms: got %+v, %v; want it enabled and healthy", got, err)
		}
	})

	t.Run("ReadOnlyChangesNothing", func(t *testing.T) {
		res := reader.get(t, "/webhooks")
		wantStatus(t, "reader's list", res, http.StatusOK)
		wantNotContains(t, "reader's list", res.body, `href="/webhooks/new"`)
		wantNotContains(t, "reader's list", res.body, `role="switch"`)
		wantNotContains(t, "reader's list", res.body, `data-pause`)
		wantContains(t, "reader's list", res.body, `data-health="Healthy"`)
		wantNotContains(t, "reader's history", reader.get(t, "/history").body, `name="sel"`)
		wantStatus(t, "reader GET new form", reader.get(t, "/webhooks/new"), http.StatusForbidden)
		for _, path := range []string{
			"/webhooks",
			fmt.Sprintf("/webhooks/%d/enable", bh.ID),
			fmt.Sprintf("/webhooks/%d/pause", bh.ID),
			fmt.Sprintf("/webhooks/%d/delete", bh.ID),
			fmt.Sprintf("/deliveries/%d/retry", aliceDelivery),
			"/retry",
		} {
			res := reader.submit(t, "/webhooks", path, url.Values{"sel": {fmt.Sprint(aliceDelivery)}, "name": {"x"}})
			wantStatus(t, "reader POST "+path, res, http.StatusForbidden)
			wantContains(t, "reader POST "+path, res.body, "read-only")
		}
		_, total, err := e.store.DeliveryList(context.Background(), hookd.DeliveryFilter{})
		if err != nil || total != 2 {
			t.Fatalf("deliveries after read-only forms: got %d, %v; want 2", total, err)
		}
	})

	t.Run("UserTriggersLimited", func(t *testing.T) {
		res := alice.submit(t, "/webhooks/new", "/webhooks", url.Values{
			"name": {"users"}, "uri": {"https://r.example/u"}, "secret": {"secret-1234"},
			"scope": {"some"}, "trigger": {"1"}, // user.created: admins only
		})
		wantStatus(t, "user subscribes to user.created", res, http.StatusBadRequest)
		wantContains(t, "user subscribes to user.created", res.body, "Trigger is not available")
		wantContains(t, "user's form", alice.get(t, "/webhooks/new").body, `value="1" disabled`)
	})
}
