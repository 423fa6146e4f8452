// Package janitor keeps the database in shape while hookd runs: it deletes finished deliveries
// older than the retention age, in small batches so that delivery never waits long for the
// database, and switches off webhooks that have failed without success for too long, saying
// why.
//
// Every operation is idempotent, so on PostgreSQL each node may run its own janitor: two
// janitors pruning at once take disjoint batches (SKIP LOCKED), and a webhook is disabled once.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookd/hookd"
)

// Defaults of Config.
const (
	DefaultInterval     = time.Minute
	DefaultRetention    = 30 * 24 * time.Hour
	DefaultDisableAfter = 72 * time.Hour // DocSpace's trustedDaysCount, 3 days
	DefaultPruneBatch   = 500
	DefaultPrunePause   = 100 * time.Millisecond
)

// Store is what the janitor needs of a hookd.Store.
type Store interface {
	DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error)
	ReplayPrune(ctx context.Context, before time.Time, limit int) (int, error)
	WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error)
}

// Config tunes a Janitor. The zero value of a field means its default.
type Config struct {
	// Interval is the time between two passes. Default 1 min.
	Interval time.Duration
	// Retention is how long finished (delivered or failed) deliveries are kept, counted from
	// their creation, and finished retry-by-filter jobs with their items, counted from their
	// end. Default 720 h (30 days); negative keeps them forever.
	Retention time.Duration
	// DisableAfter is how long a failing webhook may go without a successful delivery before
	// it is switched off. Default 72 h, as DocSpace; negative never switches one off.
	DisableAfter time.Duration
	// PruneBatch is the most deliveries (or retry-by-filter items) deleted in one
	// transaction. Default 500.
	PruneBatch int
	// PrunePause is the wait between two prune batches, which leaves the database to the
	// delivery workers for a while. Default 100 ms.
	PrunePause time.Duration
}

// Janitor runs retention and auto-disable passes.
type Janitor struct {
	store Store
	clock hookd.Clock
	log   *slog.Logger
	cfg   Config
}

// New returns a janitor working on store. Nil clock and logger mean hookd.SystemClock and
// slog.Default().
func New(store Store, clock hookd.Clock, logger *slog.Logger, cfg Config) *Janitor {
	if clock == nil {
		clock = hookd.SystemClock{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.DisableAfter == 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.PruneBatch <= 0 {
		cfg.PruneBatch = DefaultPruneBatch
	}
	if cfg.PrunePause <= 0 {
		cfg.PrunePause = DefaultPrunePause
	}
	return &Janitor{store: store, clock: clock, log: logger, cfg: cfg}
}

// Run makes a pass at once and then every Interval until ctx ends, and returns nil then. A
// failed pass is logged and tried again at the next interval.
func (j *Janitor) Run(ctx context.Context) error {
	if j.cfg.Retention < 0 && j.cfg.DisableAfter < 0 {
		return nil // nothing to do, ever
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if err := j.Pass(ctx); err != nil && ctx.Err() == nil {
			j.log.Error("janitor pass", "err", err)
		}
		timer.Reset(j.cfg.Interval)
	}
}

// Pass switches off the webhooks that failed too long, then prunes old deliveries, then old
// retry-by-filter jobs, batch after batch until none is left or ctx ends. Every step runs even
// when another fails.
func (j *Janitor) Pass(ctx context.Context) error {
	return errors.Join(j.disableFailing(ctx),
		j.prune(ctx, "deliveries", "deliveries", j.store.DeliveryPrune),
		j.prune(ctx, "retry-by-filter jobs", "jobs_and_items", j.store.ReplayPrune))
}

// disableFailing switches off the webhooks without a success for DisableAfter, and logs each.
func (j *Janitor) disableFailing(ctx context.Context) error {
	if j.cfg.DisableAfter < 0 {
		return nil
	}
	reason := fmt.Sprintf("no successful delivery for %s", j.cfg.DisableAfter)
	ws, err := j.store.WebhookDisableFailing(ctx, j.clock.Now().Add(-j.cfg.DisableAfter), reason)
	if err != nil {
		return fmt.Errorf("disable failing webhooks: %w", err)
	}
	for _, w := range ws {
		// Neither the URI nor the failure text is logged: either may carry a token.
		j.log.Warn("webhook disabled", "webhook_id", w.ID, "webhook_name", w.Name, "reason", reason,
			"last_success_on", w.LastSuccessOn, "last_failure_on", w.LastFailureOn)
	}
	return nil
}

// prune deletes what fn deletes (what is older than Retention), PruneBatch at a time with a
// pause between batches, until a batch comes back short, and logs the count under key.
func (j *Janitor) prune(ctx context.Context, what, key string, fn func(context.Context, time.Time, int) (int, error)) error {
	if j.cfg.Retention < 0 {
		return nil
	}
	before := j.clock.Now().Add(-j.cfg.Retention)
	total := 0
	defer func() {
		if total > 0 {
			j.log.Info("pruned old "+what, key, total, "before", before)
		}
	}()
	pause := time.NewTimer(0)
	defer pause.Stop()
	<-pause.C
	for {
		n, err := fn(ctx, before, j.cfg.PruneBatch)
		total += n
		if err != nil {
			return fmt.Errorf("prune %s: %w", what, err)
		}
		if n < j.cfg.PruneBatch {
			return nil
		}
		pause.Reset(j.cfg.PrunePause)
		select {
		case <-ctx.Done():
			return nil
		case <-pause.C:
		}
	}
}
