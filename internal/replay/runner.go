// Package replay runs replay jobs: the asynchronous re-sending of every delivery that matched
// a log filter (POST /api/2.0/webhooks/replays). The API pins a job's deliveries in the store;
// a Runner, one per hookd node, then steps the jobs that are due. Each step is one store
// transaction that creates the new deliveries and records them on the job's items, so a
// runner can stop at any moment (shutdown, crash) and the next one resumes where it stopped,
// never re-sending an item twice. The pace (rate, window) lives in the job row, so it holds
// across restarts and, on PostgreSQL, across nodes.
package replay

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd"
)

// Defaults of Config.
const (
	DefaultPollInterval = time.Second
	DefaultStepLimit    = 500
	// retryWait is the wait after a store error, and the shortest wait after a step that
	// found its job taken by another node.
	retryWait = time.Second
	busyWait  = 20 * time.Millisecond
)

// Store is what the runner needs of a hookd.Store.
type Store interface {
	ReplayNextDue(ctx context.Context) (time.Time, error)
	ReplayStep(ctx context.Context, p *hookd.ReplayStepParams) (*hookd.ReplayStepResult, error)
}

// Config tunes a Runner. The zero value of a field means its default.
type Config struct {
	// PollInterval is how often the runner looks for jobs when it knows of none due sooner:
	// a job created on another node, or through an API that does not call Wake. Default 1 s.
	PollInterval time.Duration
	// StepLimit caps the items of one step (one transaction), whatever a job's rate.
	// Default 500.
	StepLimit int
	// Wake is called after a step created deliveries, so that the dispatcher claims them at
	// once. Nil means nobody is told; the dispatcher finds them on its own.
	Wake func()
}

// Runner steps the due replay jobs of one store.
type Runner struct {
	store Store
	clock hookd.Clock
	log   *slog.Logger
	cfg   Config
	wake  chan struct{}
}

// New returns a runner working on store. Nil clock and logger mean hookd.SystemClock and
// slog.Default().
func New(store Store, clock hookd.Clock, logger *slog.Logger, cfg Config) *Runner {
	if clock == nil {
		clock = hookd.SystemClock{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.StepLimit <= 0 {
		cfg.StepLimit = DefaultStepLimit
	}
	return &Runner{store: store, clock: clock, log: logger, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake makes the runner look for due jobs now, e.g. after a job was created. It never blocks.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run steps due jobs until ctx ends, then returns nil. A step in progress when ctx ends is
// rolled back as a whole, to be done again by the next runner.
func (r *Runner) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, err := r.tick(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.ErrorContext(ctx, "replay runner", "err", err)
			wait = retryWait
		}
		if wait == 0 {
			continue
		}
		// Since Go 1.23 Reset discards a value the timer sent and nobody received.
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// tick steps the job that is due, if any, and returns how long to wait before the next tick.
func (r *Runner) tick(ctx context.Context) (time.Duration, error) {
	next, err := r.store.ReplayNextDue(ctx)
	if err != nil {
		return 0, err
	}
	now := r.clock.Now()
	if next.IsZero() {
		return r.cfg.PollInterval, nil
	}
	if next.After(now) {
		return min(next.Sub(now), r.cfg.PollInterval), nil
	}
	res, err := r.store.ReplayStep(ctx, &hookd.ReplayStepParams{Limit: r.cfg.StepLimit})
	if err != nil {
		return 0, err
	}
	if res.Replay == nil {
		// The due job was taken by another node's runner, or cancelled meanwhile.
		if res.NextStepAt.IsZero() {
			return r.cfg.PollInterval, nil
		}
		return min(max(res.NextStepAt.Sub(r.clock.Now()), busyWait), r.cfg.PollInterval), nil
	}
	r.report(ctx, res)
	return 0, nil // another job may be due too: look at once
}

// report wakes the dispatcher for the new deliveries and logs the job's progress.
func (r *Runner) report(ctx context.Context, res *hookd.ReplayStepResult) {
	job := res.Replay
	var retried int
	for _, it := range res.Items {
		if it.State == hookd.ReplayItemRetried {
			retried++
		}
	}
	if retried > 0 && r.cfg.Wake != nil {
		r.cfg.Wake()
	}
	r.log.DebugContext(ctx, "replay step", "replay_id", job.ID, "items", len(res.Items), "retried", retried,
		"processed", job.Processed(), "total", job.Total)
	if job.State == hookd.ReplayStateDone && len(res.Items) > 0 {
		r.log.InfoContext(ctx, "replay done", "replay_id", job.ID, "total", job.Total, "retried", job.Retried,
			"skipped", job.Skipped, "failed", job.Failed, "created_by", job.CreatedBy)
	}
}
