package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hookd/hookd"
)

// ignoreLastStatus lets webhooks from WebhookGet be compared: only WebhookList must fill it.
var ignoreLastStatus = cmpopts.IgnoreFields(hookd.Webhook{}, "LastStatus")

var webhookTests = []test{
	{"WebhookCreateAndGet", func(t *testing.T, h *harness) {
		in := &hookd.Webhook{
			Name: "CRM sync", URI: "https://crm.example/docspace", Secret: "s3cret-value",
			SSL: true, Enabled: true, Triggers: trigFileCreated | trigFileUpdated, TargetID: "42",
			CreatedBy: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
		}
		got, err := h.s.WebhookCreate(h.ctx, in)
		if err != nil {
			t.Fatalf("WebhookCreate: %v", err)
		}
		if got.ID <= 0 {
			t.Fatalf("got ID %d, want > 0", got.ID)
		}
		want := *in
		want.ID, want.CreatedOn = got.ID, T0
		diff(t, "created webhook", got, &want)
		diff(t, "WebhookGet", h.getWebhook(t, got.ID), &want, ignoreLastStatus)

		off := h.webhook(t, func(w *hookd.Webhook) { w.Enabled, w.SSL, w.Triggers = false, false, 0 })
		if off.Enabled || off.SSL || off.Triggers != 0 {
			t.Errorf("got enabled=%v ssl=%v triggers=%d, want false false 0", off.Enabled, off.SSL, off.Triggers)
		}
	}},
	{"WebhookGetMissingIsNotFound", func(t *testing.T, h *harness) {
		_, err := h.s.WebhookGet(h.ctx, 999)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"WebhookListByIDAndCreator", func(t *testing.T, h *harness) {
		alice, bob := "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
		a1 := h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = alice })
		b1 := h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = bob })
		a2 := h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = alice; w.Enabled = false })
		all, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		diff(t, "all webhooks", all, []*hookd.Webhook{a1, b1, a2})
		mine, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{CreatedBy: &alice})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		diff(t, "alice's webhooks", mine, []*hookd.Webhook{a1, a2})
		none, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{CreatedBy: ptr("nobody")})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		if len(none) != 0 {
			t.Errorf("got %d webhooks for an unknown creator, want 0", len(none))
		}
	}},
	{"WebhookFindByNameAndURI", func(t *testing.T, h *harness) {
		w := h.webhook(t, func(w *hookd.Webhook) { w.Name, w.URI = "same", "https://a.example/" })
		h.webhook(t, func(w *hookd.Webhook) { w.Name, w.URI = "same", "https://b.example/" })
		h.webhook(t, func(w *hookd.Webhook) { w.Name, w.URI = "other", "https://a.example/" })
		got, err := h.s.WebhookFind(h.ctx, "same", "https://a.example/")
		if err != nil {
			t.Fatalf("WebhookFind: %v", err)
		}
		diff(t, "found webhook", got, w, ignoreLastStatus)
		_, err = h.s.WebhookFind(h.ctx, "Same", "https://a.example/")
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = h.s.WebhookFind(h.ctx, "other", "https://b.example/")
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"WebhookUpdateOverwritesAndKeepsSecret", func(t *testing.T, h *harness) {
		w := h.webhook(t, func(w *hookd.Webhook) { w.TargetID = "7"; w.Triggers = trigFileCreated })
		at := h.clock.Advance(time.Hour)
		upd := &hookd.Webhook{
			ID: w.ID, Name: "renamed", URI: "https://new.example/", SSL: false, Enabled: true,
			Triggers: trigUserCreated, TargetID: "", ModifiedBy: "editor",
			// ignored by WebhookUpdate:
			CreatedBy: "someone else", CreatedOn: T0.Add(-time.Hour), LastStatus: 500,
		}
		got, err := h.s.WebhookUpdate(h.ctx, upd)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		want := *w
		want.Name, want.URI, want.SSL, want.Triggers, want.TargetID = "renamed", "https://new.example/", false, trigUserCreated, ""
		want.ModifiedBy, want.ModifiedOn = "editor", &at
		diff(t, "updated webhook", got, &want, ignoreLastStatus)
		diff(t, "WebhookGet after update", h.getWebhook(t, w.ID), &want, ignoreLastStatus)

		upd.Secret = "a-new-secret"
		upd.Enabled = false // an omitted "enabled" disables, as in DocSpace
		got, err = h.s.WebhookUpdate(h.ctx, upd)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		if got.Secret != "a-new-secret" || got.Enabled {
			t.Errorf("got secret replaced=%v enabled=%v, want true false", got.Secret == "a-new-secret", got.Enabled)
		}
	}},
	{"WebhookUpdateEnablingClearsDisabledReason", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		if _, err := h.s.WebhookSetEnabled(h.ctx, w.ID, false, "", "410 Gone"); err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		w.Enabled = false
		got, err := h.s.WebhookUpdate(h.ctx, w)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		if got.DisabledReason != "410 Gone" {
			t.Errorf("got DisabledReason %q after saving disabled, want %q", got.DisabledReason, "410 Gone")
		}
		w.Enabled = true
		got, err = h.s.WebhookUpdate(h.ctx, w)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		if !got.Enabled || got.DisabledReason != "" {
			t.Errorf("got enabled=%v reason=%q, want true and empty", got.Enabled, got.DisabledReason)
		}
	}},
	{"WebhookUpdateMissingIsNotFound", func(t *testing.T, h *harness) {
		_, err := h.s.WebhookUpdate(h.ctx, &hookd.Webhook{ID: 999, Name: "x", URI: "https://x.example/"})
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"WebhookSetEnabledKeepsReasonUntilEnabled", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		at := h.clock.Advance(time.Minute)
		got, err := h.s.WebhookSetEnabled(h.ctx, w.ID, false, "admin", "too long without success")
		if err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		want := *w
		want.Enabled, want.DisabledReason, want.ModifiedBy, want.ModifiedOn = false, "too long without success", "admin", &at
		diff(t, "disabled webhook", got, &want, ignoreLastStatus)
		diff(t, "WebhookGet", h.getWebhook(t, w.ID), &want, ignoreLastStatus)

		at = h.clock.Advance(time.Minute)
		got, err = h.s.WebhookSetEnabled(h.ctx, w.ID, true, "owner", "ignored when enabling")
		if err != nil {
			t.Fatalf("WebhookSetEnabled: %v", err)
		}
		want.Enabled, want.DisabledReason, want.ModifiedBy, want.ModifiedOn = true, "", "owner", &at
		diff(t, "enabled webhook", got, &want, ignoreLastStatus)
	}},
	{"WebhookSetEnabledMissingIsNotFound", func(t *testing.T, h *harness) {
		_, err := h.s.WebhookSetEnabled(h.ctx, 999, false, "", "")
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"WebhookDeleteCascadesDeliveriesButKeepsEvents", func(t *testing.T, h *harness) {
		gone := h.webhook(t)
		kept := h.webhook(t)
		ev, ds := h.publish(t, trigFileCreated)
		if len(ds) != 2 {
			t.Fatalf("got %d deliveries, want 2", len(ds))
		}
		for _, c := range h.claim(t, 10) {
			h.record(t, h.result(c, 503))
		}
		got, err := h.s.WebhookDelete(h.ctx, gone.ID)
		if err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		want := *gone
		want.LastFailureOn = ptr(T0.Add(250 * time.Millisecond))
		want.LastFailureContent = "status 503"
		diff(t, "deleted webhook", got, &want, ignoreLastStatus)

		_, err = h.s.WebhookGet(h.ctx, gone.ID)
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = h.s.DeliveryGet(h.ctx, ds[0].ID)
		wantCode(t, err, hookd.ENOTFOUND)
		as, err := h.s.AttemptList(h.ctx, ds[0].ID)
		if err != nil {
			t.Fatalf("AttemptList: %v", err)
		}
		if len(as) != 0 {
			t.Errorf("got %d attempts of a deleted delivery, want 0", len(as))
		}
		if _, total := h.list(t, hookd.DeliveryFilter{WebhookID: &gone.ID}); total != 0 {
			t.Errorf("got %d deliveries of the deleted webhook, want 0", total)
		}
		// The event stays for the other webhook's delivery.
		other := h.get(t, ds[1].ID)
		if other.WebhookID != kept.ID {
			t.Fatalf("got delivery of webhook %d, want %d", other.WebhookID, kept.ID)
		}
		diff(t, "event of the remaining delivery", other.Event, ev)
		_, err = h.s.WebhookDelete(h.ctx, gone.ID)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"WebhookListLastStatusFollowsNewestAttempt", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		quiet := h.webhook(t, func(w *hookd.Webhook) { w.Triggers = trigUserCreated })
		h.publish(t, trigFileCreated)
		h.record(t, h.result(h.claimOne(t), 503))
		assertLastStatus(t, h, map[int64]int{w.ID: 503, quiet.ID: 0})
		h.clock.Advance(time.Minute)
		h.record(t, h.result(h.claimOne(t), 204))
		assertLastStatus(t, h, map[int64]int{w.ID: 204, quiet.ID: 0})
	}},
	{"WebhookStandardSigningIsWrittenByCreateAndUpdate", func(t *testing.T, h *harness) {
		std := h.webhook(t, func(w *hookd.Webhook) { w.StandardSigning = true })
		plain := h.webhook(t)
		if !std.StandardSigning || plain.StandardSigning {
			t.Fatalf("got created standardSigning %v and %v, want true and false", std.StandardSigning, plain.StandardSigning)
		}
		if !h.getWebhook(t, std.ID).StandardSigning {
			t.Errorf("WebhookGet: got standardSigning false, want true")
		}
		h.publish(t, trigFileCreated)
		for _, c := range h.claim(t, 10) {
			if want := c.Webhook.ID == std.ID; c.Webhook.StandardSigning != want {
				t.Errorf("claimed webhook %d: got standardSigning %v, want %v", c.Webhook.ID, c.Webhook.StandardSigning, want)
			}
		}
		std.StandardSigning, plain.StandardSigning = false, true
		for _, w := range []*hookd.Webhook{std, plain} {
			got, err := h.s.WebhookUpdate(h.ctx, w)
			if err != nil {
				t.Fatalf("WebhookUpdate: %v", err)
			}
			if got.StandardSigning != w.StandardSigning {
				t.Errorf("webhook %d: got standardSigning %v after update, want %v", w.ID, got.StandardSigning, w.StandardSigning)
			}
		}
		all, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
		if err != nil {
			t.Fatalf("WebhookList: %v", err)
		}
		if len(all) != 2 || all[0].StandardSigning || !all[1].StandardSigning {
			t.Errorf("WebhookList: got %d webhooks, want standardSigning false then true", len(all))
		}
	}},
	{"WebhookCreateIgnoresRotationFields", func(t *testing.T, h *harness) {
		w := h.webhook(t, func(w *hookd.Webhook) {
			w.PreviousSecret, w.PreviousSecretUntil = "old-secret-1", ptr(T0.Add(time.Hour))
		})
		if w.PreviousSecret != "" || w.PreviousSecretUntil != nil {
			t.Errorf("got previous secret set=%v until %v, want none", w.PreviousSecret != "", w.PreviousSecretUntil)
		}
	}},
	{"WebhookUpdateRotatesSecret", func(t *testing.T, h *harness) {
		w := h.webhook(t, func(w *hookd.Webhook) { w.Secret = "secret-A-123" })
		until := T0.Add(24 * time.Hour)
		w.Secret, w.PreviousSecret, w.PreviousSecretUntil = "secret-B-123", "ignored-by-update", &until
		got, err := h.s.WebhookUpdate(h.ctx, w)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		wantRotation(t, "after rotating to B", got, "secret-B-123", "secret-A-123", &until)
		wantRotation(t, "WebhookGet", h.getWebhook(t, w.ID), "secret-B-123", "secret-A-123", &until)

		// Saving other fields keeps the rotation while it lasts; claims carry it to the sender.
		h.clock.Advance(time.Hour)
		w.Secret, w.PreviousSecretUntil, w.Name = "", nil, "renamed"
		got, err = h.s.WebhookUpdate(h.ctx, w)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		wantRotation(t, "after saving without a secret", got, "secret-B-123", "secret-A-123", &until)
		h.publish(t, trigFileCreated)
		wantRotation(t, "claimed webhook", h.claimOne(t).Webhook, "secret-B-123", "secret-A-123", &until)

		// Rotating again during the overlap keeps one previous secret: the one just replaced.
		until2 := h.clock.Now().Add(time.Hour)
		w.Secret, w.PreviousSecretUntil = "secret-C-123", &until2
		if got, err = h.s.WebhookUpdate(h.ctx, w); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		wantRotation(t, "after rotating to C", got, "secret-C-123", "secret-B-123", &until2)

		// A new secret without an overlap replaces it at once.
		w.Secret, w.PreviousSecretUntil = "secret-D-123", nil
		if got, err = h.s.WebhookUpdate(h.ctx, w); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		wantRotation(t, "after replacing with D", got, "secret-D-123", "", nil)
	}},
	{"WebhookUpdateDropsExpiredPreviousSecret", func(t *testing.T, h *harness) {
		w := h.webhook(t, func(w *hookd.Webhook) { w.Secret = "secret-A-123" })
		until := T0.Add(time.Minute)
		w.Secret, w.PreviousSecretUntil = "secret-B-123", &until
		if _, err := h.s.WebhookUpdate(h.ctx, w); err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		h.clock.Advance(time.Minute) // the overlap ends at its instant
		w.Secret, w.PreviousSecretUntil = "", nil
		got, err := h.s.WebhookUpdate(h.ctx, w)
		if err != nil {
			t.Fatalf("WebhookUpdate: %v", err)
		}
		wantRotation(t, "after the overlap", got, "secret-B-123", "", nil)
	}},
}

// wantRotation checks a webhook's secret and rotation state; it names secrets, never prints them.
func wantRotation(t *testing.T, what string, w *hookd.Webhook, secret, previous string, until *time.Time) {
	t.Helper()
	if w.Secret != secret || w.PreviousSecret != previous {
		t.Errorf("%s: got secret %s previous %s, want %s and %s", what, secretName(w.Secret), secretName(w.PreviousSecret), secretName(secret), secretName(previous))
	}
	switch {
	case until == nil && w.PreviousSecretUntil != nil:
		t.Errorf("%s: got previous secret until %v, want none", what, *w.PreviousSecretUntil)
	case until != nil && (w.PreviousSecretUntil == nil || !w.PreviousSecretUntil.Equal(*until)):
		t.Errorf("%s: got previous secret until %v, want %v", what, w.PreviousSecretUntil, *until)
	}
}

// secretName returns the letter of the fixtures' "secret-X-123" secrets.
func secretName(s string) string {
	if s == "" {
		return "(none)"
	}
	if len(s) > 7 {
		return s[7:8]
	}
	return "?"
}

func assertLastStatus(t *testing.T, h *harness, want map[int64]int) {
	t.Helper()
	ws, err := h.s.WebhookList(h.ctx, hookd.WebhookFilter{})
	if err != nil {
		t.Fatalf("WebhookList: %v", err)
	}
	got := map[int64]int{}
	for _, w := range ws {
		got[w.ID] = w.LastStatus
	}
	diff(t, "LastStatus by webhook", got, want)
}
