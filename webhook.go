package hookd

import "time"

// Webhook is a subscription (DocSpace "webhook config"): where to POST events of which triggers,
// signed with which secret.
type Webhook struct {
	ID       int64
	Name     string
	URI      string
	Secret   string // HMAC key; never returned by the API, never logged
	SSL      bool   // verify the receiver's certificate and require https
	Enabled  bool
	Triggers Trigger // mask; 0 = every event
	TargetID string  // when set, only events about this entity id are delivered

	CreatedBy  string // user id (uuid) of the key that created it
	CreatedOn  time.Time
	ModifiedBy string
	ModifiedOn *time.Time

	LastFailureOn      *time.Time
	LastFailureContent string
	LastSuccessOn      *time.Time

	// DisabledReason says why hookd switched the webhook off by itself (410 Gone, too long
	// without success); empty when a person disabled it or it is enabled.
	DisabledReason string

	// LastStatus is the HTTP status of the newest answered delivery of the webhook, 0 when
	// none; filled by WebhookList only (DocSpace WebhooksConfigWithStatusDto.status).
	LastStatus int

	// StandardSigning adds the Standard Webhooks headers (webhook-id, webhook-timestamp,
	// webhook-signature) to every delivery, beside the DocSpace signature that is always sent.
	// WebhookCreate and WebhookUpdate always write it.
	StandardSigning bool

	// PreviousSecret is the secret that the last rotation replaced. Until PreviousSecretUntil
	// it signs deliveries too (signing.go), so that receivers can switch secrets without
	// downtime. Like Secret it is never returned by the API, never logged.
	//
	// WebhookCreate ignores both fields. WebhookUpdate ignores PreviousSecret: with an empty
	// Secret it keeps the rotation state (clearing it once PreviousSecretUntil has passed);
	// with a new Secret and a nil PreviousSecretUntil it replaces the secret at once and drops
	// any previous one; with a new Secret and a PreviousSecretUntil it rotates: the stored
	// secret becomes PreviousSecret until that time, in one statement (no read-modify-write
	// race). Only one previous secret is kept: rotating again during an overlap drops the
	// oldest.
	PreviousSecret      string
	PreviousSecretUntil *time.Time
}

// WebhookFilter selects webhooks for WebhookList. Nil fields do not filter.
type WebhookFilter struct {
	CreatedBy *string // only webhooks created by this user
}
