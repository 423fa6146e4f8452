package hookd_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

func TestValidateWebhook(t *testing.T) {
	t.Parallel()
	ok := hookd.WebhookFields{Name: "n", URI: "https://example.com/hook", Secret: "a-good-secret", Triggers: 128}
	ui := hookd.FieldLabels{Name: "name", URI: "payload URL", Secret: "secret key", TargetID: "target id", SSL: "SSL verification"}
	cases := []struct {
		name   string
		edit   func(*hookd.WebhookFields)
		role   hookd.Role
		create bool
		labels hookd.FieldLabels
		want   string // "" = valid
	}{
		{"Valid", func(*hookd.WebhookFields) {}, hookd.RoleUser, true, hookd.APIFieldLabels, ""},
		{"NameMissing", func(f *hookd.WebhookFields) { f.Name = "" }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "The name is required."},
		{"NameTooLong", func(f *hookd.WebhookFields) { f.Name = strings.Repeat("é", 51) }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "at most 50"},
		{"URILabelForUI", func(f *hookd.WebhookFields) { f.URI = "" }, hookd.RoleAdmin, true, ui, "The payload URL is required."},
		{"HTTPWithSSL", func(f *hookd.WebhookFields) { f.URI = "http://example.com"; f.SSL = true }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "HTTPS is required: the uri must start with https:// when ssl is on."},
		{"SchemeFTP", func(f *hookd.WebhookFields) { f.URI = "ftp://example.com" }, hookd.RoleAdmin, true, hookd.APIFieldLabels, `Invalid URL scheme "ftp"`},
		{"SecretRequiredOnCreate", func(f *hookd.WebhookFields) { f.Secret = "" }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "The secretKey is required."},
		{"SecretKeptOnUpdate", func(f *hookd.WebhookFields) { f.Secret = "" }, hookd.RoleAdmin, false, hookd.APIFieldLabels, ""},
		{"SecretWithSpace", func(f *hookd.WebhookFields) { f.Secret = "has a space" }, hookd.RoleAdmin, true, ui, "The secret key must be 8 to 50"},
		{"TargetTooLong", func(f *hookd.WebhookFields) { f.TargetID = strings.Repeat("x", 256) }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "The targetId must be at most 255"},
		{"UnknownBits", func(f *hookd.WebhookFields) { f.Triggers = 1 << 40 }, hookd.RoleAdmin, true, hookd.APIFieldLabels, "Unknown trigger bits"},
		{"UserReservedTrigger", func(f *hookd.WebhookFields) { f.Triggers = 1 }, hookd.RoleUser, true, hookd.APIFieldLabels, "Trigger is not available"},
		{"AdminReservedTrigger", func(f *hookd.WebhookFields) { f.Triggers = 1 }, hookd.RoleAdmin, true, hookd.APIFieldLabels, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			err := hookd.ValidateWebhook(f, tc.role, tc.create, tc.labels)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(hookd.ErrorMessage(err), tc.want) || hookd.ErrorCode(err) != hookd.EINVALID):
				t.Errorf("got %v, want EINVALID saying %q", err, tc.want)
			case err != nil && strings.Contains(hookd.ErrorMessage(err), f.Secret) && f.Secret != "":
				t.Errorf("message %q repeats the secret", hookd.ErrorMessage(err))
			}
		})
	}
}
