package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
)

// Store is what the worker needs of a hookd.Store.
type Store interface {
	DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error)
	AttemptRecord(ctx context.Context, results []*hookd.AttemptResult) error
	DeliveryNextDue(ctx context.Context) (time.Time, error)
	DeliveryRelease(ctx context.Context, claims []*hookd.Claim) error
}

// Defaults of Config.
const (
	DefaultConcurrency   = 64
	DefaultPollInterval  = time.Second
	DefaultRecordBatch   = 256
	DefaultShutdownGrace = 30 * time.Second
	// DefaultPerWebhookInflight is the default cap of attempts in flight to one webhook.
	DefaultPerWebhookInflight = 16
	// leaseMargin is added to the attempt timeout for the default lease: time to record the
	// attempt after the longest send.
	leaseMargin = 30 * time.Second
	// recordGrace is how long, once the sends have ended at shutdown, the recorder may keep
	// retrying a failing database before it gives up (the leases then make the deliveries due
	// again).
	recordGrace = 10 * time.Second
	// minWait keeps the dispatcher from spinning when the next due time is now or past.
	minWait = 10 * time.Millisecond
	// maxRecordBackoff caps the wait between retries of a failed AttemptRecord.
	maxRecordBackoff = 10 * time.Second
)

// Config tunes a Worker. The zero value of a field means its default.
type Config struct {
	// Concurrency is how many claims the worker may hold at once (being sent, waiting for
	// their webhook to have room, or being recorded); it is also the number of sender
	// goroutines. Default 64.
	Concurrency int
	// PerWebhookInflight caps the attempts in flight to one webhook on this worker, so that a
	// slow or dead receiver cannot take every sender: a claim over the cap waits for its
	// webhook without a sender, and is left to its lease when the webhook is stalled (at its
	// cap and no attempt ended for a while). Default 16, never more than Concurrency.
	PerWebhookInflight int
	// Lease is how long a claim holds a delivery; a worker that dies loses its claims when
	// their leases end. Default the sender's attempt timeout plus 30 s.
	Lease time.Duration
	// PollInterval is the longest the dispatcher waits before looking for due deliveries
	// again; it wakes sooner for Wake, freed slots and the next known due time. Default 1 s.
	PollInterval time.Duration
	// Schedule is the wait before each automatic retry. Nil means hookd.DefaultRetrySchedule;
	// an empty, non-nil slice means no automatic retries.
	Schedule []time.Duration
	// RecordBatch is the most attempt results written in one AttemptRecord call. Default 256.
	RecordBatch int
	// ShutdownGrace is how long in-flight attempts may run once Run's context ends; those
	// still running then are cancelled and recorded as failed, to be retried. Default 30 s.
	ShutdownGrace time.Duration
	// RandFunc returns the random numbers in [0, 1) that spread retries (hookd.Jitter).
	// Default math/rand/v2.Float64.
	RandFunc func() float64
}

// Worker delivers due deliveries: a dispatcher claims as many as there are free slots and
// hands each to a fixed pool of sender goroutines once its webhook is under its cap of
// attempts in flight (dispatch.go), and a recorder writes the results in batches. A claim
// holds its slot until it is recorded or released.
type Worker struct {
	store   Store
	sender  *Sender
	clock   hookd.Clock
	log     *slog.Logger
	cfg     Config
	wake    chan struct{}
	running atomic.Bool

	loads      *loads        // attempts in flight per webhook
	stallAfter time.Duration // see loads.stalled
	maxWait    time.Duration // the longest a claim waits for its webhook before it is released
}

// NewWorker returns a worker that claims from store and sends with sender. Nil clock and
// logger mean hookd.SystemClock and slog.Default().
func NewWorker(store Store, sender *Sender, clock hookd.Clock, logger *slog.Logger, cfg Config) *Worker {
	if clock == nil {
		clock = hookd.SystemClock{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Lease <= 0 {
		cfg.Lease = sender.Timeout() + leaseMargin
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Schedule == nil {
		cfg.Schedule = hookd.DefaultRetrySchedule
	}
	if cfg.RecordBatch <= 0 {
		cfg.RecordBatch = DefaultRecordBatch
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.RandFunc == nil {
		cfg.RandFunc = rand.Float64
	}
	if cfg.PerWebhookInflight <= 0 {
		cfg.PerWebhookInflight = DefaultPerWebhookInflight
	}
	cfg.PerWebhookInflight = min(cfg.PerWebhookInflight, cfg.Concurrency)
	// A webhook that holds its cap of attempts for this long without one ending is stalled:
	// a twentieth of the attempt timeout, from 100 ms to 1 s.
	stallAfter := min(max(sender.Timeout()/20, 100*time.Millisecond), time.Second)
	return &Worker{
		store:      store,
		sender:     sender,
		clock:      clock,
		log:        logger,
		cfg:        cfg,
		wake:       make(chan struct{}, 1),
		loads:      newLoads(cfg.PerWebhookInflight, stallAfter, logger),
		stallAfter: stallAfter,
		// Half the lease's margin over the attempt timeout: an attempt started by then ends
		// before the lease does.
		maxWait: max((cfg.Lease-sender.Timeout())/2, minWait),
	}
}

// Wake makes the dispatcher look for due deliveries at once, e.g. after a publish or a
// retry. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// done is what a sender hands to the recorder: a finished attempt, or a claim it did not
// start because the worker is stopping.
type done struct {
	result  *hookd.AttemptResult
	release *hookd.Claim
}

// Run delivers until ctx ends, then shuts down: it stops claiming, releases the claims not
// yet started, lets the attempts in flight finish for up to ShutdownGrace (then cancels
// them), records every result, and returns. Run may be called once at a time.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("delivery worker: already running")
	}
	defer w.running.Store(false)

	slots := make(chan struct{}, w.cfg.Concurrency) // a token per claim not yet recorded
	jobs := make(chan *hookd.Claim, w.cfg.Concurrency)
	results := make(chan done, w.cfg.Concurrency)

	// Sends and records outlive ctx: they are stopped in stages below.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	recordCtx, cancelRecord := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRecord()

	var senders sync.WaitGroup
	for range w.cfg.Concurrency {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for c := range jobs {
				d := done{release: c}
				var took time.Duration
				if ctx.Err() == nil {
					d = done{result: w.attempt(sendCtx, c)}
					took = d.result.Attempt.Duration
				}
				w.loads.finish(c.Delivery.WebhookID, time.Now(), took)
				results <- d
				w.Wake() // the webhook has room for a waiting claim
			}
		}()
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.recordLoop(recordCtx, results, slots)
	}()

	(&dispatcher{w: w, slots: slots, jobs: jobs, results: results, queues: map[int64][]waiting{}, parking: newParking()}).run(ctx)
	close(jobs)
	w.log.Info("delivery worker stopping", "in_flight", len(slots), "grace", w.cfg.ShutdownGrace)
	graceTimer := time.AfterFunc(w.cfg.ShutdownGrace, cancelSends)
	senders.Wait()
	graceTimer.Stop()
	recordTimer := time.AfterFunc(recordGrace, cancelRecord)
	close(results)
	<-recorded
	recordTimer.Stop()
	w.log.Info("delivery worker stopped")
	return nil
}

// untilNextDue returns how long to wait for the next due delivery, at most wait.
func (w *Worker) untilNextDue(ctx context.Context, wait time.Duration) time.Duration {
	next, err := w.store.DeliveryNextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("read next due delivery", "err", err)
		}
		return wait
	}
	if next.IsZero() {
		return wait
	}
	d := max(next.Sub(w.clock.Now()), minWait)
	return min(d, wait)
}

// attempt sends one claimed delivery and decides what follows.
func (w *Worker) attempt(ctx context.Context, c *hookd.Claim) *hookd.AttemptResult {
	d := c.Delivery
	res := &hookd.AttemptResult{ClaimToken: c.Token}
	switch {
	case c.Webhook == nil:
		res.Attempt = hookd.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, StartedAt: w.clock.Now(), Error: "webhook was deleted"}
		res.Outcome = hookd.OutcomeFailed
		return res
	case !c.Webhook.Enabled && d.RetryOf == 0:
		// Manual retries go out even to a disabled webhook, as in DocSpace.
		res.Attempt = hookd.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, StartedAt: w.clock.Now(), Error: "webhook is disabled"}
		res.Outcome = hookd.OutcomeFailed
		w.logAttempt(res)
		return res
	}
	res.Attempt = w.sender.Send(ctx, c, w.clock.Now())
	if ctx.Err() != nil && res.Attempt.Status == 0 {
		// Cut short by shutdown, not by the receiver: due again at once, on any node.
		res.Attempt.Error = "attempt cancelled: hookd was shutting down"
		res.Outcome = hookd.OutcomeRetry
		res.NextAttemptAt = w.clock.Now()
		w.logAttempt(res)
		return res
	}
	outcome, delay := hookd.Classify(w.cfg.Schedule, res.Attempt.Number, res.Attempt.Status)
	res.Outcome = outcome
	if outcome == hookd.OutcomeRetry {
		now := w.clock.Now()
		res.NextAttemptAt = now.Add(hookd.Jitter(delay, w.cfg.RandFunc()))
		// A receiver that says when to come back (429, 503) is not retried sooner.
		if s := res.Attempt.Status; s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable {
			if after, ok := hookd.RetryAfter(res.Attempt.ResponseHeaders, now); ok && now.Add(after).After(res.NextAttemptAt) {
				res.NextAttemptAt = now.Add(after)
			}
		}
	}
	if res.Attempt.Status == http.StatusGone {
		res.DisableWebhook = "receiver answered 410 Gone"
		w.log.Warn("receiver answered 410 Gone: disabling webhook", "webhook_id", c.Webhook.ID, "delivery_id", d.ID)
	}
	w.logAttempt(res)
	return res
}

func (w *Worker) logAttempt(res *hookd.AttemptResult) {
	a := &res.Attempt
	level := slog.LevelDebug
	if res.Outcome != hookd.OutcomeDelivered {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, "delivery attempt",
		"delivery_id", a.DeliveryID, "attempt", a.Number, "status", a.Status,
		"duration_ms", a.Duration.Milliseconds(), "outcome", outcomeName(res.Outcome), "error", a.Error)
}

func outcomeName(o hookd.Outcome) string {
	switch o {
	case hookd.OutcomeDelivered:
		return "delivered"
	case hookd.OutcomeRetry:
		return "retry"
	case hookd.OutcomeFailed:
		return "failed"
	}
	return "unknown"
}
