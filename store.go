package hookd

import (
	"context"
	"time"
)

// Store is the persistence contract. internal/store/sqlite and internal/store/postgres
// implement it with the same semantics, and internal/store/storetest checks both.
//
// Errors: a missing record is ErrNotFound; invalid arguments are EINVALID; other driver
// errors are wrapped and treated as internal. Times are stored and returned in UTC, taken from
// the Clock the store was opened with.
type Store interface {
	// Migrate brings the schema up to date. Concurrent calls from several processes are safe.
	Migrate(ctx context.Context) error
	// Ping checks that the database answers and the schema is current.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// KeyCreate stores a new API key; CreatedOn is set by the store.
	KeyCreate(ctx context.Context, k *Key) (*Key, error)
	// KeyByHash returns the key with this hash (revoked and expired keys included).
	KeyByHash(ctx context.Context, hash string) (*Key, error)
	// KeyList returns every key, oldest first.
	KeyList(ctx context.Context) ([]*Key, error)
	// KeyRevoke marks a key revoked; revoking twice is not an error.
	KeyRevoke(ctx context.Context, id int64) error

	// WebhookCreate stores a new webhook; ID and CreatedOn are set by the store.
	WebhookCreate(ctx context.Context, w *Webhook) (*Webhook, error)
	// WebhookGet returns one webhook, secret included.
	WebhookGet(ctx context.Context, id int64) (*Webhook, error)
	// WebhookList returns the webhooks matching f ordered by id, with LastStatus filled.
	WebhookList(ctx context.Context, f WebhookFilter) ([]*Webhook, error)
	// WebhookFind returns the webhook with this name and URI, ErrNotFound if none.
	WebhookFind(ctx context.Context, name, uri string) (*Webhook, error)
	// WebhookUpdate overwrites name, URI, SSL, enabled, triggers, target id, modified by and on,
	// and the secret when w.Secret is not empty. Enabling clears DisabledReason.
	WebhookUpdate(ctx context.Context, w *Webhook) (*Webhook, error)
	// WebhookSetEnabled switches a webhook on or off; reason is kept as DisabledReason when
	// disabling (empty for a person's choice) and cleared when enabling.
	WebhookSetEnabled(ctx context.Context, id int64, enabled bool, modifiedBy, reason string) (*Webhook, error)
	// WebhookDelete removes a webhook and its deliveries and attempts, and returns it as it was.
	WebhookDelete(ctx context.Context, id int64) (*Webhook, error)

	// EventPublish stores an event and one pending delivery, due now, for every enabled
	// webhook whose mask matches the trigger and whose TargetID (if any) equals the event's,
	// in one transaction. The deliveries are returned in webhook id order.
	EventPublish(ctx context.Context, p *EventPublishParams) (*Event, []*Delivery, error)

	// DeliveryGet returns one delivery with Event, WebhookName and LastAttempt set.
	DeliveryGet(ctx context.Context, id int64) (*Delivery, error)
	// DeliveryList returns one page of deliveries matching f, newest (highest id) first, with
	// Event, WebhookName and LastAttempt set, and the number of matches before paging.
	DeliveryList(ctx context.Context, f DeliveryFilter) ([]*Delivery, int64, error)
	// DeliveryRetry creates, for each id in order, a new pending delivery due now with the same
	// webhook, event and trigger and RetryOf set to the id. Ids that do not exist, or that
	// WebhookCreatedBy excludes, are skipped. The new deliveries are returned in order.
	DeliveryRetry(ctx context.Context, p *DeliveryRetryParams) ([]*Delivery, error)
	// DeliveryClaim leases up to p.Limit due deliveries (pending or retrying with
	// NextAttemptAt <= now, or inflight with an expired lease), oldest due first, and returns
	// them with their event and current webhook.
	DeliveryClaim(ctx context.Context, p *DeliveryClaimParams) ([]*Claim, error)
	// DeliveryNextDue returns when the earliest pending or retrying delivery comes due, or
	// the zero time when none is waiting.
	DeliveryNextDue(ctx context.Context) (time.Time, error)
	// DeliveryRelease returns inflight deliveries claimed with these tokens to the due state
	// without recording an attempt (used on shutdown for claims that never started).
	DeliveryRelease(ctx context.Context, claims []*Claim) error

	// DeliveryStats returns the size and age of the delivery backlog, for metrics and
	// backpressure.
	DeliveryStats(ctx context.Context) (*DeliveryStats, error)
	// DeliveryPrune deletes up to limit deliveries in a final state (delivered or failed) created
	// before `before`, with their attempts, and events left without deliveries; it returns how
	// many deliveries it deleted. Small limits keep each transaction short.
	DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error)
	// WebhookDisableFailing disables every enabled webhook whose last attempt failed and that
	// has not succeeded since `since` (counting from its creation when it never succeeded),
	// with the given reason, and returns the webhooks it disabled.
	WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*Webhook, error)

	// AttemptRecord stores finished attempts in one transaction: the attempt rows, and for each
	// whose ClaimToken still holds the delivery, the delivery's new state and last-attempt view
	// and the webhook's last success or failure (and disabling when asked).
	AttemptRecord(ctx context.Context, results []*AttemptResult) error
	// AttemptList returns the attempts of one delivery, first attempt first.
	AttemptList(ctx context.Context, deliveryID int64) ([]*Attempt, error)
}

// DeliveryStats describes the delivery backlog at one moment.
type DeliveryStats struct {
	Pending   int64     // pending deliveries (never tried)
	Retrying  int64     // deliveries waiting for a retry
	Inflight  int64     // deliveries claimed by a worker
	Due       int64     // pending or retrying deliveries whose time has come
	OldestDue time.Time // next_attempt_at of the oldest due delivery; zero when none is due
}

// Backlog is the number of deliveries not yet final.
func (s *DeliveryStats) Backlog() int64 { return s.Pending + s.Retrying + s.Inflight }
