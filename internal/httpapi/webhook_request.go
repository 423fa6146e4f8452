package httpapi

import (
	"strings"

	"github.com/hookd/hookd"
)

// webhookRequest is the body of create, update and enable (DocSpace's
// Create/UpdateWebhooksConfigRequestsDto, plus hookd's standardSigning and ordered).
// encoding/json matches keys case-insensitively, so "SSL", "Enabled" or "secretkey" are read
// as DocSpace reads them.
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
	// Ordered (hookd): false when omitted on create, unchanged when omitted on update.
	Ordered *bool `json:"ordered"`
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
	return hookd.ValidateWebhook(hookd.WebhookFields{
		Name: req.Name, URI: req.URI, Secret: req.SecretKey, TargetID: req.targetID(),
		SSL: req.SSL, Triggers: req.Triggers,
	}, k.Role, create, hookd.APIFieldLabels)
}
