package webui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// uiLabels name the form's fields in validation messages.
var uiLabels = hookd.FieldLabels{Name: "name", URI: "payload URL", Secret: "secret key", TargetID: "target id", SSL: "SSL verification"}

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
	// Ordered sends the deliveries of one ordering key one at a time (docs/ordering.md).
	Ordered bool
}

// newWebhookForm fills the edit form from a stored webhook.
func newWebhookForm(w *hookd.Webhook) webhookForm {
	return webhookForm{
		ID: w.ID, Name: w.Name, URI: w.URI, SSL: w.SSL, Enabled: w.Enabled,
		AllTriggers: w.Triggers == hookd.TriggerAll, Triggers: w.Triggers, TargetID: w.TargetID,
		StandardSigning: w.StandardSigning, Ordered: w.Ordered,
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
		Ordered:         r.PostFormValue("ordered") != "",
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
	if f.AllTriggers {
		f.Triggers = hookd.TriggerAll
	}
	err := hookd.ValidateWebhook(hookd.WebhookFields{
		Name: f.Name, URI: f.URI, Secret: f.Secret, TargetID: f.TargetID,
		SSL: f.SSL, Triggers: f.Triggers,
	}, k.Role, create, uiLabels)
	if err == nil && !f.AllTriggers && f.Triggers == 0 {
		return hookd.Errorf(hookd.EINVALID, "Pick at least one trigger, or choose \"Send everything\".")
	}
	return err
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
