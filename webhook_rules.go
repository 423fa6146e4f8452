package hookd

import (
	"net/url"
	"unicode/utf8"
)

// Limits of the webhook fields (spec §3.3). The secret's 8–50 printable ASCII characters widen
// DocSpace's default password policy (8–30), whose DTO already allows 50.
const (
	WebhookNameMax     = 50
	WebhookTargetIDMax = 255
	WebhookURIMax      = 2048
	SecretMinLen       = 8
	SecretMaxLen       = 50
)

// FieldLabels name a webhook's fields in validation messages: the API uses its JSON names,
// the web UI the labels a person sees.
type FieldLabels struct {
	Name, URI, Secret, TargetID, SSL string
}

// APIFieldLabels are the JSON names of the DocSpace webhook DTO.
var APIFieldLabels = FieldLabels{Name: "name", URI: "uri", Secret: "secretKey", TargetID: "targetId", SSL: "ssl"}

// WebhookFields are what a person sets on a webhook and can get wrong.
type WebhookFields struct {
	Name, URI, Secret, TargetID string
	SSL                         bool
	Triggers                    Trigger
}

// ValidateWebhook checks the fields in DocSpace's order and returns the first problem as an
// EINVALID error whose message names the field with l. requireSecret makes the secret
// mandatory (create); otherwise an empty secret means "keep the stored one". Role user may not
// subscribe to the triggers DocSpace reserves for admins. Whether the receiver's host may be
// called is checked elsewhere, at the network level.
func ValidateWebhook(f WebhookFields, role Role, requireSecret bool, l FieldLabels) error {
	switch {
	case f.Name == "":
		return Errorf(EINVALID, "The %s is required.", l.Name)
	case utf8.RuneCountInString(f.Name) > WebhookNameMax:
		return Errorf(EINVALID, "The %s must be at most %d characters long.", l.Name, WebhookNameMax)
	}
	if err := CheckReceiverURL(f.URI, f.SSL, l); err != nil {
		return err
	}
	if f.Secret != "" || requireSecret {
		if err := CheckSecret(f.Secret, l.Secret); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(f.TargetID) > WebhookTargetIDMax {
		return Errorf(EINVALID, "The %s must be at most %d characters long.", l.TargetID, WebhookTargetIDMax)
	}
	if !f.Triggers.ValidMask() {
		return Errorf(EINVALID, "Unknown trigger bits: %d. Use values listed by GET /api/2.0/settings/webhook/triggers.", int64(f.Triggers&^TriggerMaskAll))
	}
	if role != RoleAdmin && f.Triggers.UserUnavailable() != 0 {
		return Errorf(EINVALID, "Trigger is not available")
	}
	return nil
}

// CheckReceiverURL checks the syntax of a receiver URL: absolute, http or https, and https when
// ssl is on.
func CheckReceiverURL(uri string, ssl bool, l FieldLabels) error {
	if uri == "" {
		return Errorf(EINVALID, "The %s is required.", l.URI)
	}
	if len(uri) > WebhookURIMax {
		return Errorf(EINVALID, "The %s must be at most %d characters long.", l.URI, WebhookURIMax)
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return Errorf(EINVALID, "The %s must be an absolute http or https URL.", l.URI)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ssl {
			return Errorf(EINVALID, "HTTPS is required: the %s must start with https:// when %s is on.", l.URI, l.SSL)
		}
	default:
		return Errorf(EINVALID, "Invalid URL scheme %q: only http and https are allowed.", u.Scheme)
	}
	return nil
}

// CheckSecret checks a webhook secret: 8 to 50 printable ASCII characters without spaces, and
// the Standard Webhooks form when it starts with whsec_. The message never repeats the secret.
func CheckSecret(s, label string) error {
	if s == "" {
		return Errorf(EINVALID, "The %s is required.", label)
	}
	ok := len(s) >= SecretMinLen && len(s) <= SecretMaxLen
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x21 && s[i] <= 0x7e
	}
	if !ok {
		return Errorf(EINVALID, "The %s must be %d to %d printable ASCII characters without spaces.", label, SecretMinLen, SecretMaxLen)
	}
	return CheckStandardSecret(s)
}
