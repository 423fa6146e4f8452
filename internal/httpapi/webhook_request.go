package httpapi

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// Limits of the webhook fields (spec §3.3). The secret's 8–50 printable ASCII characters
// widen DocSpace's default password policy (8–30), whose DTO already allows 50.
const (
	maxNameLen     = 50
	maxTargetIDLen = 255
	maxURILen      = 2048
	minSecretLen   = 8
	maxSecretLen   = 50
)

// webhookRequest is the body of create, update and enable (DocSpace's
// Create/UpdateWebhooksConfigRequestsDto, plus hookd's standardSigning). encoding/json matches
// keys case-insensitively, so "SSL", "Enabled" or "secretkey" are read as DocSpace reads them.
type webhookRequest struct {
	ID        *int64        `json:"id"`
	Name      string        `json:"name"`
	URI       string        `json:"uri"`
	SecretKey string        `json:"secretKey"`
	Enabled   *bool         `json:"enabled"`
	SSL       bool          `json:"ssl"`
	Triggers  hookd.Trigger `json:"triggers"`
	TargetID  *string       `json:"targetId"`
	// StandardSigning (hookd): false when omitted on create, unchanged when omitted on update.
	StandardSigning *bool `json:"standardSigning"`
}

// normalize trims the blanks a form may leave around the name and the URL.
func (req *webhookRequest) normalize() {
	req.Name = strings.TrimSpace(req.Name)
	req.URI = strings.TrimSpace(req.URI)
}

// targetID returns the target id, "" when omitted or null.
func (req *webhookRequest) targetID() string {
	if req.TargetID == nil {
		return ""
	}
	return *req.TargetID
}

// validate checks the fields a person can get wrong, in DocSpace's order, and returns the
// first problem as an EINVALID error. create makes the secret mandatory; on update an empty
// secret keeps the stored one.
func (req *webhookRequest) validate(k *hookd.Key, create bool) error {
	switch {
	case req.Name == "":
		return hookd.Errorf(hookd.EINVALID, "The name is required.")
	case utf8.RuneCountInString(req.Name) > maxNameLen:
		return hookd.Errorf(hookd.EINVALID, "The name must be at most %d characters long.", maxNameLen)
	}
	if err := validateURI(req.URI, req.SSL); err != nil {
		return err
	}
	if req.SecretKey != "" || create {
		if err := validateSecret(req.SecretKey); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(req.targetID()) > maxTargetIDLen {
		return hookd.Errorf(hookd.EINVALID, "The targetId must be at most %d characters long.", maxTargetIDLen)
	}
	if !req.Triggers.ValidMask() {
		return hookd.Errorf(hookd.EINVALID, "Unknown trigger bits: %d. Use values listed by GET /api/2.0/settings/webhook/triggers.", int64(req.Triggers&^hookd.TriggerMaskAll))
	}
	if !isAdmin(k) && req.Triggers.UserUnavailable() != 0 {
		return hookd.Errorf(hookd.EINVALID, "Trigger is not available")
	}
	return nil
}

// validateURI checks the syntax of a receiver URL: absolute, http or https, and https when
// ssl is set. Whether the host may be called is Config.CheckURL's business.
func validateURI(uri string, ssl bool) error {
	if uri == "" {
		return hookd.Errorf(hookd.EINVALID, "The uri is required.")
	}
	if len(uri) > maxURILen {
		return hookd.Errorf(hookd.EINVALID, "The uri must be at most %d characters long.", maxURILen)
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return hookd.Errorf(hookd.EINVALID, "The uri must be an absolute http or https URL.")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ssl {
			return hookd.Errorf(hookd.EINVALID, "HTTPS is required: the uri must start with https:// when ssl is on.")
		}
	default:
		return hookd.Errorf(hookd.EINVALID, "Invalid URL scheme %q: only http and https are allowed.", u.Scheme)
	}
	return nil
}

// validateSecret checks a webhook secret: 8 to 50 printable ASCII characters, no spaces, and
// when it starts with whsec_, the Standard Webhooks form. The message never repeats the secret.
func validateSecret(s string) error {
	if s == "" {
		return hookd.Errorf(hookd.EINVALID, "The secretKey is required.")
	}
	ok := len(s) >= minSecretLen && len(s) <= maxSecretLen
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x21 && s[i] <= 0x7e
	}
	if !ok {
		return hookd.Errorf(hookd.EINVALID, "The secretKey must be %d to %d printable ASCII characters without spaces.", minSecretLen, maxSecretLen)
	}
	return hookd.CheckStandardSecret(s)
}
