package webui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// Limits of the webhook fields, the API's (spec §3.3): the secret's 8–50 printable ASCII
// characters widen DocSpace's default password policy (8–30), whose DTO allows 50.
const (
	maxNameLen     = 50
	maxTargetIDLen = 255
	maxURILen      = 2048
	minSecretLen   = 8
	maxSecretLen   = 50
)

// webhookForm is the create and edit form. The secret is read but never written back into
// a page: after a failed submit the person types it again.
type webhookForm struct {
	ID          int64
	Name        string
	URI         string
	Secret      string
	SSL         bool
	Enabled     bool
	AllTriggers bool
	Triggers    hookd.Trigger
	TargetID    string
	// StandardSigning adds the Standard Webhooks headers (docs/signing.md).
	StandardSigning bool
}

// newWebhookForm fills the edit form from a stored webhook.
func newWebhookForm(w *hookd.Webhook) webhookForm {
	return webhookForm{
		ID: w.ID, Name: w.Name, URI: w.URI, SSL: w.SSL, Enabled: w.Enabled,
		AllTriggers: w.Triggers == hookd.TriggerAll, Triggers: w.Triggers, TargetID: w.TargetID,
		StandardSigning: w.StandardSigning,
	}
}

// parseWebhookForm reads a posted form. Trigger checkboxes carry their bit; "scope=all"
// means every event.
func parseWebhookForm(r *http.Request) (webhookForm, error) {
	f := webhookForm{
		Name:        strings.TrimSpace(r.PostFormValue("name")),
		URI:         strings.TrimSpace(r.PostFormValue("uri")),
		Secret:      r.PostFormValue("secret"),
		SSL:         r.PostFormValue("ssl") != "",
		Enabled:     r.PostFormValue("enabled") != "",
		AllTriggers: r.PostFormValue("scope") != "some",
		TargetID:    strings.TrimSpace(r.PostFormValue("targetId")),

		StandardSigning: r.PostFormValue("standardSigning") != "",
	}
	if f.AllTriggers {
		return f, nil
	}
	for _, v := range r.PostForm["trigger"] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !hookd.Trigger(n).Single() {
			return f, hookd.Errorf(hookd.EINVALID, "Unknown trigger %q.", v)
		}
		f.Triggers |= hookd.Trigger(n)
	}
	return f, nil
}

// Has reports whether the form's mask includes trigger t (for the checkboxes).
func (f webhookForm) Has(t hookd.Trigger) bool {
	return !f.AllTriggers && f.Triggers&t != 0
}

// validate checks the fields in the API's order and with its messages, and returns the first
// problem as an EINVALID error. create makes the secret mandatory; on edit an empty secret
// keeps the stored one.
func (f *webhookForm) validate(k *hookd.Key, create bool) error {
	switch {
	case f.Name == "":
		return hookd.Errorf(hookd.EINVALID, "The name is required.")
	case utf8.RuneCountInString(f.Name) > maxNameLen:
		return hookd.Errorf(hookd.EINVALID, "The name must be at most %d characters long.", maxNameLen)
	}
	if err := validateURI(f.URI, f.SSL); err != nil {
		return err
	}
	if f.Secret != "" || create {
		if err := validateSecret(f.Secret); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(f.TargetID) > maxTargetIDLen {
		return hookd.Errorf(hookd.EINVALID, "The target id must be at most %d characters long.", maxTargetIDLen)
	}
	if !f.AllTriggers && f.Triggers == 0 {
		return hookd.Errorf(hookd.EINVALID, "Pick at least one trigger, or choose \"Send everything\".")
	}
	if f.AllTriggers {
		f.Triggers = hookd.TriggerAll
	}
	if !isAdmin(k) && f.Triggers.UserUnavailable() != 0 {
		return hookd.Errorf(hookd.EINVALID, "Trigger is not available")
	}
	return nil
}

// validateURI checks a receiver URL's syntax: absolute, http or https, https when ssl is on.
// Whether the host may be called is Config.CheckURL's business.
func validateURI(uri string, ssl bool) error {
	if uri == "" {
		return hookd.Errorf(hookd.EINVALID, "The payload URL is required.")
	}
	if len(uri) > maxURILen {
		return hookd.Errorf(hookd.EINVALID, "The payload URL must be at most %d characters long.", maxURILen)
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return hookd.Errorf(hookd.EINVALID, "The payload URL must be an absolute http or https URL.")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ssl {
			return hookd.Errorf(hookd.EINVALID, "HTTPS is required: the payload URL must start with https:// when SSL verification is on.")
		}
	default:
		return hookd.Errorf(hookd.EINVALID, "Invalid URL scheme %q: only http and https are allowed.", u.Scheme)
	}
	return nil
}

// validateSecret checks a secret: 8 to 50 printable ASCII characters, no spaces, and when it
// starts with whsec_, the Standard Webhooks form. The message never repeats the secret.
func validateSecret(s string) error {
	if s == "" {
		return hookd.Errorf(hookd.EINVALID, "The secret key is required.")
	}
	ok := len(s) >= minSecretLen && len(s) <= maxSecretLen
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x21 && s[i] <= 0x7e
	}
	if !ok {
		return hookd.Errorf(hookd.EINVALID, "The secret key must be %d to %d printable ASCII characters without spaces.", minSecretLen, maxSecretLen)
	}
	return hookd.CheckStandardSecret(s)
}

// triggerGroup is one fieldset of the form's trigger checkboxes ("file", "room" ...).
type triggerGroup struct {
	Name     string
	Triggers []triggerOption
}

type triggerOption struct {
	hookd.TriggerInfo
	Available bool // the key's role may subscribe to it
}

// triggerGroups lists the triggers by kind, in enum order, marking those k may not use.
func triggerGroups(k *hookd.Key) []triggerGroup {
	var groups []triggerGroup
	index := map[string]int{}
	for _, t := range hookd.Triggers {
		if t.Value == hookd.TriggerAll {
			continue
		}
		kind, _, _ := strings.Cut(t.Name, ".")
		i, ok := index[kind]
		if !ok {
			i = len(groups)
			index[kind] = i
			groups = append(groups, triggerGroup{Name: kind})
		}
		groups[i].Triggers = append(groups[i].Triggers, triggerOption{TriggerInfo: t, Available: isAdmin(k) || t.User})
	}
	return groups
}
