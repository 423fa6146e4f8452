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
	// WebhookUpdate overwrites name, URI, SSL, enabled, triggers, target id, standard signing,
	// modified by and on, and the secret when w.Secret is not empty. Enabling clears
	// DisabledReason. A new secret with PreviousSecretUntil set rotates: the stored secret
	// becomes PreviousSecret until then. A new secret without it replaces the secret at once and
	// ends any rotation; no new secret keeps a running rotation and clears an expired one.
	// An update that switches a webhook that was off on also does, in the same transaction,
	// what enabling with WebhookSetEnabled does: healthy, no health reason or probe, held
	// deliveries released. One that keeps it on, keeps it off or switches it off changes no
	// health and releases nothing (a person's edit does not end a pause).
	WebhookUpdate(ctx context.Context, w *Webhook) (*Webhook, error)
	// WebhookSetEnabled switches a webhook on or off; reason is kept as DisabledReason when
	// disabling (empty for a person's choice) and cleared when enabling. Enabling also makes
	// the webhook healthy and releases its held deliveries, as WebhookHealthSet does.
	WebhookSetEnabled(ctx context.Context, id int64, enabled bool, modifiedBy, reason string) (*Webhook, error)
	// WebhookHealthSet moves webhook p.ID from health p.From to p.To with p.Reason, only when
	// its health is still p.From ("" and healthy match each other): otherwise it changes
	// nothing and returns the current webhook with false. HealthSince becomes now when the state
	// changes and is kept when only the reason changes. To paused also writes ProbeAt and
	// Probes and holds every pending or retrying delivery of the webhook (state held), in the
	// same transaction, even when it was paused already (a failed probe is held again). Leaving
	// paused clears ProbeAt and Probes and releases the held deliveries (pending when never
	// attempted, else retrying; NextAttemptAt unchanged). A disabled webhook can be changed.
	WebhookHealthSet(ctx context.Context, p *WebhookHealthParams) (*Webhook, bool, error)
	// WebhookProbeDue starts the probes that have come due: for every enabled paused webhook
	// whose ProbeAt is not after now, it moves the webhook's oldest held delivery (lowest
	// NextAttemptAt, then id) that its ordering key lets go (one an older open delivery of its
	// key blocks could not be claimed) to due now (pending or retrying) and sets ProbeAt to now+lease,
	// so that no other caller probes it meanwhile. It returns the webhooks probed, each
	// counted whether or not it had a held delivery.
	WebhookProbeDue(ctx context.Context, lease time.Duration) ([]*Webhook, error)
	// WebhookDelete removes a webhook and its deliveries and attempts, and returns it as it was.
	WebhookDelete(ctx context.Context, id int64) (*Webhook, error)

	// EventPublish stores an event and one pending delivery, due now, for every enabled
	// webhook whose mask matches the trigger and whose TargetID (if any) equals the event's,
	// in one transaction. The deliveries are returned in webhook id order. A delivery to a
	// paused webhook is created held; one to an ordered webhook carries the event's
	// OrderingKey.
	EventPublish(ctx context.Context, p *EventPublishParams) (*Event, []*Delivery, error)
	// EventPublishBatch publishes every event of ps, as EventPublish does, in one transaction,
	// and returns them in order. An invalid event (or more than MaxPublishBatch) rejects the
	// whole batch with EINVALID naming its index; an empty batch returns nothing.
	EventPublishBatch(ctx context.Context, ps []*EventPublishParams) ([]*Published, error)

	// DeliveryGet returns one delivery with Event, WebhookName and LastAttempt set.
	DeliveryGet(ctx context.Context, id int64) (*Delivery, error)
	// DeliveryList returns one page of deliveries matching f, newest (highest id) first, with
	// Event, WebhookName and LastAttempt set, and the number of matches before paging.
	DeliveryList(ctx context.Context, f DeliveryFilter) ([]*Delivery, int64, error)
	// DeliveryRetry creates, for each id in order, a new pending delivery due now with the same
	// webhook, event and trigger and RetryOf set to the id. Ids that do not exist, or that
	// WebhookCreatedBy excludes, are skipped. The new deliveries are returned in order. As in
	// EventPublish, a retry to a paused webhook is held and one to an ordered webhook carries
	// the event's ordering key (the same holds for ReplayStep's new deliveries).
	DeliveryRetry(ctx context.Context, p *DeliveryRetryParams) ([]*Delivery, error)
	// DeliveryClaim leases up to p.Limit due deliveries (pending or retrying with
	// NextAttemptAt <= now, or inflight with an expired lease), oldest due first, and returns
	// them with their event and current webhook. Held deliveries are never claimed, and a
	// delivery with an OrderingKey only when it is the oldest not final of its webhook and key
	// (Delivery.OrderingKey); at most one of a key per call. Deliveries of p.SkipWebhooks are
	// passed over.
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
	// ReplayPrune deletes up to limit items of retry-by-filter jobs that finished (done or
	// cancelled) before `before`, then the finished jobs left without items; it returns how
	// many items and jobs it deleted together. Jobs still queued or running are kept whatever
	// their age.
	ReplayPrune(ctx context.Context, before time.Time, limit int) (int, error)
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

	// ReplayCreate validates p and, in one transaction, pins every delivery matching p.Filter
	// up to p.Filter.MaxID (nil: the largest delivery id now) as the items of a new queued job,
	// and returns it with true. With ExcludeRetried, deliveries that another delivery already
	// retries are pinned as skipped. When p.IdempotencyKey is set and p.CreatedBy already has
	// a job with that key, nothing is created and that job is returned with false, even under
	// concurrent calls. More than MaxReplayItems matches is EINVALID. A job without pending
	// items is created done.
	ReplayCreate(ctx context.Context, p *ReplayParams) (*Replay, bool, error)
	// ReplayPreview counts what ReplayCreate would pin now, and returns the first p.Sample ids
	// it would replay, without writing anything.
	ReplayPreview(ctx context.Context, p *ReplayParams) (*ReplayPreview, error)
	// ReplayGet returns one job.
	ReplayGet(ctx context.Context, id int64) (*Replay, error)
	// ReplayList returns the jobs matching f, newest first, and their number before paging.
	ReplayList(ctx context.Context, f ReplayFilter) ([]*Replay, int64, error)
	// ReplayItemList returns the items of one job in delivery id order, with the webhook and
	// trigger of the original delivery, and their number before paging; ErrNotFound when the
	// job does not exist.
	ReplayItemList(ctx context.Context, f ReplayItemFilter) ([]*ReplayItem, int64, error)
	// ReplayCancel stops a queued or running job: its pending items become cancelled and it
	// is cancelled. A job already done or cancelled is returned unchanged.
	ReplayCancel(ctx context.Context, id int64) (*Replay, error)
	// ReplayNextDue returns when the earliest step of a queued or running job is due, the zero
	// time when there is none. It only reads.
	ReplayNextDue(ctx context.Context) (time.Time, error)
	// ReplayStep does one paced step of the queued or running job whose NextStepAt is the
	// earliest and not after now, in one transaction; with no such job it only reports
	// NextStepAt. A step takes n items, (n, wait) = ReplayChunk(Rate, p.Limit), fewer when the
	// job's window is nearly full: among its newest 2×Window retried items, those whose new
	// delivery is pending, inflight, or retrying after a 429 count against Window; a full
	// window processes nothing and waits ReplayBackoff(Rate). Each pending item, in delivery
	// id order, becomes skipped (ExcludeRetried and a delivery retries it), retried (a new
	// pending delivery due now, as DeliveryRetry does with the job's CreatedBy and
	// WebhookCreatedBy = Filter.CreatedBy), or failed (gone or not visible). Because the new
	// deliveries and the items are written in one transaction, an item is never retried
	// twice, whatever crashes. The job becomes running, or done when no item is left, and its
	// next step is due after wait. Concurrent callers never step the same job at once.
	ReplayStep(ctx context.Context, p *ReplayStepParams) (*ReplayStepResult, error)
}

// DeliveryStats describes the delivery backlog at one moment.
type DeliveryStats struct {
	Pending   int64     // pending deliveries (never tried)
	Retrying  int64     // deliveries waiting for a retry
	Inflight  int64     // deliveries claimed by a worker
	Held      int64     // deliveries waiting for their paused webhook
	Due       int64     // pending or retrying deliveries whose time has come
	OldestDue time.Time // next_attempt_at of the oldest due delivery; zero when none is due
}

// Backlog is the number of deliveries not yet final.
func (s *DeliveryStats) Backlog() int64 { return s.Pending + s.Retrying + s.Inflight + s.Held }
