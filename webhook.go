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

	// Ordered makes deliveries of one ordering key go out one at a time, in publish order
	// (docs/ordering.md). WebhookCreate and WebhookUpdate always write it.
	Ordered bool

	// Endpoint health (docs/health.md), written only by WebhookHealthSet and reset by
	// WebhookSetEnabled(true). Health "" reads as HealthHealthy.
	Health       WebhookHealth
	HealthReason string     // the evidence for the state, for people; "" when healthy
	HealthSince  *time.Time // when the webhook entered its state; nil when it never left healthy
	ProbeAt      *time.Time // paused: when the next probe delivery goes out
	Probes       int        // paused: probes that failed since it was paused (the backoff step)
}

// WebhookHealth is the state of a receiver as hookd judges it from the answers it gets
// (docs/health.md). A disabled webhook (Enabled false) reads as HealthDisabled.
type WebhookHealth string

// The health states, in order of gravity.
const (
	HealthHealthy  WebhookHealth = "healthy"  // deliveries go out at the adaptive pace
	HealthDegraded WebhookHealth = "degraded" // failing often: deliveries go out, fewer at once
	HealthPaused   WebhookHealth = "paused"   // deliveries wait (held); one probe on a backoff
	HealthDisabled WebhookHealth = "disabled" // switched off by a person, a 410 or the janitor
)

// State returns the webhook's health as shown to people: HealthDisabled when it is disabled,
// HealthHealthy when never set.
func (w *Webhook) State() WebhookHealth {
	switch {
	case !w.Enabled:
		return HealthDisabled
	case w.Health == "":
		return HealthHealthy
	}
	return w.Health
}

// WebhookHealthParams are the arguments of Store.WebhookHealthSet.
type WebhookHealthParams struct {
	ID     int64
	From   WebhookHealth // the state the caller saw ("" matches healthy); the change is made only from it
	To     WebhookHealth // healthy, degraded or paused
	Reason string
	// ProbeAt and Probes are written when To is paused: when the next probe goes out and how
	// many probes failed so far.
	ProbeAt time.Time
	Probes  int
}

// WebhookFilter selects webhooks for WebhookList. Nil fields do not filter.
type WebhookFilter struct {
	CreatedBy *string // only webhooks created by this user
}

// NeverProbe is the ProbeAt of a webhook paused by a person: it is never probed, and waits
// for a person (or enabling) to resume it.
var NeverProbe = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
