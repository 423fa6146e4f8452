package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// signingDTO is the part of the webhook DTO that signing adds.
type signingDTO struct {
	ID                  int64
	StandardSigning     bool
	PreviousSecretUntil *time.Time
}

func TestWebhookStandardSigningField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var on, off signingDTO
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook",
		`{"name":"std","uri":"https://example.com/std","secretKey":"s3cret-key","StandardSigning":true}`).ok(t, 200, &on)
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook",
		`{"name":"plain","uri":"https://example.com/plain","secretKey":"s3cret-key"}`).ok(t, 200, &off)
	if !on.StandardSigning || off.StandardSigning {
		t.Fatalf("got created standardSigning %v and %v, want true and false", on.StandardSigning, off.StandardSigning)
	}
	stored := func(id int64) bool {
		t.Helper()
		w, err := f.store.WebhookGet(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return w.StandardSigning
	}

	// A DocSpace client does not know the field: its full replacement leaves it alone.
	var got signingDTO
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook",
		fmt.Sprintf(`{"id":%d,"name":"std","uri":"https://example.com/std","enabled":true}`, on.ID)).ok(t, 200, &got)
	if !got.StandardSigning || !stored(on.ID) {
		t.Errorf("after a DocSpace update: got standardSigning %v (stored %v), want it kept true", got.StandardSigning, stored(on.ID))
	}
	f.do(&f.admin, "PUT", "/api/2.0/settings/webhook",
		fmt.Sprintf(`{"id":%d,"name":"std","uri":"https://example.com/std","enabled":true,"standardSigning":false}`, on.ID)).ok(t, 200, &got)
	if got.StandardSigning || stored(on.ID) {
		t.Errorf("after standardSigning:false: got %v (stored %v), want false", got.StandardSigning, stored(on.ID))
	}

	var list []struct{ Configs signingDTO }
	f.do(&f.admin, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &list)
	if len(list) != 2 || list[0].Configs.StandardSigning || list[1].Configs.StandardSigning {
		t.Errorf("got list %+v, want two webhooks without standard signing", list)
	}
}

func TestWebhookSecretRotate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.createWebhook(&f.user, "rotating", "https://example.com/r", 0, "")
	path := fmt.Sprintf("/api/2.0/webhooks/%d/secret", w.ID)
	start := f.clock.Now()

	a := f.do(&f.user, "PUT", path, `{"secretKey":"n3w-secret-key","overlap":"2h"}`)
	var got signingDTO
	a.ok(t, 200, &got)
	if want := start.Add(2 * time.Hour); got.PreviousSecretUntil == nil || !got.PreviousSecretUntil.Equal(want) {
		t.Errorf("got previousSecretUntil %v, want %v", got.PreviousSecretUntil, want)
	}
	stored, err := f.store.WebhookGet(f.ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Secret != "n3w-secret-key" || stored.PreviousSecret != "s3cret-key" || stored.ModifiedBy != f.user.key.UserID {
		t.Errorf("stored: new secret %v, previous kept %v, modified by %q; want true, true, the caller",
			stored.Secret == "n3w-secret-key", stored.PreviousSecret == "s3cret-key", stored.ModifiedBy)
	}
	if stored.Name != "rotating" || stored.URI != "https://example.com/r" || !stored.Enabled {
		t.Errorf("stored %q %q enabled=%v, want the other fields unchanged", stored.Name, stored.URI, stored.Enabled)
	}
	for _, secret := range []string{"n3w-secret-key", "s3cret-key"} {
		if strings.Contains(string(a.raw), secret) || strings.Contains(f.logs.String(), secret) {
			t.Errorf("a secret appears in the answer or the log")
		}
	}
	if !strings.Contains(f.logs.String(), "webhook secret rotated") {
		t.Errorf("got log %q, want the rotation recorded", f.logs.String())
	}

	// After the overlap the answer no longer shows it.
	f.clock.Advance(2 * time.Hour)
	var list []struct{ Configs signingDTO }
	f.do(&f.user, "GET", "/api/2.0/settings/webhook", "").ok(t, 200, &list)
	if len(list) != 1 || list[0].Configs.PreviousSecretUntil != nil {
		t.Errorf("got %+v after the overlap, want no previousSecretUntil", list)
	}

	// Default overlap 24h; 0s replaces at once.
	f.do(&f.user, "PUT", path, `{"secretKey":"third-secret-key"}`).ok(t, 200, &got)
	if want := f.clock.Now().Add(24 * time.Hour); got.PreviousSecretUntil == nil || !got.PreviousSecretUntil.Equal(want) {
		t.Errorf("default overlap: got previousSecretUntil %v, want %v", got.PreviousSecretUntil, want)
	}
	got = signingDTO{}
	f.do(&f.user, "PUT", path, `{"secretKey":"fourth-secret-key","overlap":"0s"}`).ok(t, 200, &got)
	if got.PreviousSecretUntil != nil {
		t.Errorf("overlap 0s: got previousSecretUntil %v, want none", got.PreviousSecretUntil)
	}
	if stored, _ = f.store.WebhookGet(f.ctx, w.ID); stored.PreviousSecret != "" || stored.Secret != "fourth-secret-key" {
		t.Errorf("overlap 0s: got previous secret kept %v, new secret stored %v; want false, true", stored.PreviousSecret != "", stored.Secret == "fourth-secret-key")
	}
}

func TestWebhookSecretRotateValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.createWebhook(&f.admin, "v", "https://example.com/v", 0, "")
	path := fmt.Sprintf("/api/2.0/webhooks/%d/secret", w.ID)
	for _, tc := range []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"NoSecret", path, `{"overlap":"1h"}`, 400, "The secretKey is required."},
		{"ShortSecret", path, `{"secretKey":"short"}`, 400, "8 to 50 printable ASCII"},
		{"BadWhsec", path, `{"secretKey":"whsec_bm90LWVub3VnaC1ieXRlcw=="}`, 400, "base64 of at least 24 random bytes"},
		{"SameSecret", path, `{"secretKey":"s3cret-key"}`, 400, "is the current one"},
		{"OverlapNotADuration", path, `{"secretKey":"n3w-secret-key","overlap":"a day"}`, 400, "The overlap must be a duration"},
		{"NegativeOverlap", path, `{"secretKey":"n3w-secret-key","overlap":"-1h"}`, 400, "The overlap must be a duration"},
		{"OverlapTooLong", path, `{"secretKey":"n3w-secret-key","overlap":"721h"}`, 400, "The overlap must be a duration"},
		{"OverlapAsNumber", path, `{"secretKey":"n3w-secret-key","overlap":3600}`, 400, "overlap"},
		{"UnknownWebhook", "/api/2.0/webhooks/999/secret", `{"secretKey":"n3w-secret-key"}`, 404, hookd.MessageNotFound},
		{"IDNotANumber", "/api/2.0/webhooks/abc/secret", `{"secretKey":"n3w-secret-key"}`, 404, hookd.MessageNotFound},
	} {
		// Not parallel: the check after the loop needs every refusal done.
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(&f.admin, "PUT", tc.path, tc.body)
			msg := a.fails(t, tc.status, tc.msg)
			if strings.Contains(msg, "n3w-secret-key") || strings.Contains(msg, "s3cret-key") {
				t.Errorf("message %q repeats a secret", msg)
			}
		})
	}
	stored, err := f.store.WebhookGet(f.ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Secret != "s3cret-key" || stored.PreviousSecret != "" {
		t.Errorf("refused rotations changed the secret (%v) or set a previous one (%v)", stored.Secret != "s3cret-key", stored.PreviousSecret != "")
	}
}

func TestWebhookWhsecSecretChecked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook",
		`{"name":"bad","uri":"https://example.com/bad","secretKey":"whsec_not-base64-at-all!!"}`).
		fails(t, 400, "base64 of at least 24 random bytes")
	secret := hookd.NewStandardSecret()
	var w signingDTO
	f.do(&f.admin, "POST", "/api/2.0/settings/webhook",
		fmt.Sprintf(`{"name":"good","uri":"https://example.com/good","secretKey":%q,"standardSigning":true}`, secret)).ok(t, 200, &w)
	if !w.StandardSigning {
		t.Errorf("got standardSigning false, want true")
	}
}
