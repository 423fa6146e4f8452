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
	WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error)
	WebhookProbeDue(ctx context.Context, lease time.Duration) ([]*hookd.Webhook, error)
}

// Defaults of Config.
const (
	DefaultConcurrency   = 64
	DefaultPollInterval  = time.Second
	DefaultRecordBatch   = 256
	DefaultShutdownGrace = 30 * time.Second
	// DefaultPerWebhookInflight is the default ceiling of attempts in flight to one webhook.
	DefaultPerWebhookInflight = 16
	// DefaultInitialInflight is the default limit of attempts in flight to a webhook without
	// history on this worker.
	DefaultInitialInflight = 2
	// DefaultFastAnswer is the default answer time under which an answer grows the limit.
	DefaultFastAnswer = time.Second
	// DefaultProbeInterval is how often, by default, the worker starts the probes come due.
	DefaultProbeInterval = time.Second
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

// claimsPerSender is how many claims the worker holds per sender. With one, a sender that
// ends an attempt has no next claim on hand until the attempt is recorded and a new claim
// made, and the store's writer, taking turns between the two, gets batches of a few. With
// two, a backlog drain on SQLite claimed 14 deliveries at a time instead of 9 and spent 12 %
// less CPU per delivery; four, with a longer record linger, gave bigger batches still, which
// PostgreSQL needs most (docs/perf.md). A crashed node may repeat the attempts of the claims it
// held and had not recorded: at most claimsPerSender × concurrency (docs/reliability.md).
const claimsPerSender = 4

// Config tunes a Worker. The zero value of a field means its default.
type Config struct {
	// Concurrency is the number of sender goroutines: at most that many attempts are in
	// flight. The worker holds up to claimsPerSender times as many claims (being sent,
	// waiting for their webhook to have room, or being recorded). Default 64.
	Concurrency int
	// PerWebhookInflight is the ceiling of the attempts in flight to one webhook on this
	// worker. Each webhook has an adaptive limit under it (loads.go): it starts at
	// InitialInflight, grows while the receiver answers quickly and halves when it shows
	// congestion, so that a slow or dead receiver cannot take every sender. A claim over its
	// webhook's limit waits without a sender, and is left to its lease when the webhook is
	// stalled (at its limit and no attempt ended for a while). Default 16, never more than
	// Concurrency.
	PerWebhookInflight int
	// InitialInflight is the limit of a webhook without history on this worker. Default 2,
	// never more than PerWebhookInflight.
	InitialInflight int
	// FastAnswer: an answer within it (not a 429 or 5xx) grows its webhook's limit by 1/limit; a slower
	// one neither grows nor shrinks it. Default 1 s.
	FastAnswer time.Duration
	// Health says when a receiver is judged degraded, paused or healthy again (health.go).
	Health HealthPolicy
	// ProbeInterval is how often the worker starts the probes of paused webhooks that have
	// come due (Store.WebhookProbeDue). Default 1 s.
	ProbeInterval time.Duration
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
// hands each to a fixed pool of sender goroutines once its webhook is under its limit of
// attempts in flight (dispatch.go), and a recorder writes the results in batches and judges
// the receivers' health from them (health.go). A claim holds its slot until it is recorded
// or released.
type Worker struct {
	store   Store
	sender  *Sender
	clock   hookd.Clock
	log     *slog.Logger
	cfg     Config
	wake    chan struct{}
	running atomic.Bool

	loads  *loads   // attempts in flight and adaptive limit per webhook
	health *tracker // used by the recorder goroutine only
	// claimMu keeps the dispatcher from claiming while the recorder releases claims of a
	// paused webhook and holds them again: in between they are due, and a claim would send
	// them as probes.
	claimMu    sync.Mutex
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
	setDefault(&cfg.Concurrency, DefaultConcurrency)
	setDefault(&cfg.Lease, sender.Timeout()+leaseMargin)
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	setDefault(&cfg.RecordBatch, DefaultRecordBatch)
	setDefault(&cfg.ShutdownGrace, DefaultShutdownGrace)
	setDefault(&cfg.PerWebhookInflight, DefaultPerWebhookInflight)
	setDefault(&cfg.InitialInflight, DefaultInitialInflight)
	setDefault(&cfg.FastAnswer, DefaultFastAnswer)
	setDefault(&cfg.ProbeInterval, DefaultProbeInterval)
	cfg.PerWebhookInflight = min(cfg.PerWebhookInflight, cfg.Concurrency)
	cfg.InitialInflight = min(cfg.InitialInflight, cfg.PerWebhookInflight)
	if cfg.Schedule == nil {
		cfg.Schedule = hookd.DefaultRetrySchedule
	}
	if cfg.RandFunc == nil {
		cfg.RandFunc = rand.Float64
	}
	cfg.Health = cfg.Health.withDefaults()
	// A webhook that holds its cap of attempts for this long without one ending is stalled:
	// a twentieth of the attempt timeout, from 100 ms to 1 s.
	stallAfter := min(max(sender.Timeout()/20, 100*time.Millisecond), time.Second)
	l := newLoads(cfg.InitialInflight, cfg.PerWebhookInflight, cfg.FastAnswer, stallAfter, logger)
	return &Worker{
		store:      store,
		sender:     sender,
		clock:      clock,
		log:        logger,
		cfg:        cfg,
		wake:       make(chan struct{}, 1),
		loads:      l,
		health:     newTracker(cfg.Health, store, l, logger, cfg.RandFunc),
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

// Limits returns the current adaptive limit of attempts in flight of each webhook that has
// a state on this worker (attempts in flight, a limit away from InitialInflight, or a
// Retry-After in force), for metrics and tests.
func (w *Worker) Limits() map[int64]float64 { return w.loads.limits() }

// job is a claim handed to a sender, with when it took its place under its webhook's limit.
type job struct {
	claim   *hookd.Claim
	started time.Time
}

// done is what the recorder is handed: a finished attempt (with what it says of the
// receiver's health, nil when nothing), or a claim to release without an attempt (not
// started because the worker is stopping, or held back because its webhook is paused, to be
// held again: hold).
type done struct {
	result  *hookd.AttemptResult
	obs     *observation
	release *hookd.Claim
	hold    bool
}

// Run delivers until ctx ends, then shuts down: it stops claiming, releases the claims not
// yet started, lets the attempts in flight finish for up to ShutdownGrace (then cancels
// them), records every result, and returns. Run may be called once at a time.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("delivery worker: already running")
	}
	defer w.running.Store(false)

	slots := make(chan struct{}, claimsPerSender*w.cfg.Concurrency) // a token per claim not yet recorded
	jobs := make(chan job, w.cfg.Concurrency)
	results := make(chan done, cap(slots)) // one per slot: handing over a result never waits

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
			for j := range jobs {
				d := done{release: j.claim}
				a := answer{started: j.started}
				if ctx.Err() == nil {
					d, a = w.send(sendCtx, j)
				}
				w.loads.finish(j.claim.Delivery.WebhookID, time.Now(), a)
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

	probed := make(chan struct{})
	go func() {
		defer close(probed)
		w.probe(ctx)
	}()

	(&dispatcher{w: w, slots: slots, jobs: jobs, results: results, queues: map[int64][]waiting{}, parking: newParking()}).run(ctx)
	<-probed
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

// send makes one attempt of a claimed delivery and returns it for the recorder, with what
// its answer says to the webhook's limiter.
func (w *Worker) send(ctx context.Context, j job) (done, answer) {
	res, judged := w.attempt(ctx, j.claim)
	a := answer{started: j.started, took: res.Attempt.Duration}
	d := done{result: res}
	if !judged {
		return d, a
	}
	att := &res.Attempt
	retryAfter := retryAfterOf(att, w.clock.Now())
	a.retryAfter = retryAfter
	switch s := att.Status; {
	case s == 0, s == http.StatusTooManyRequests, s >= 500:
		a.signal = signalCongested
	case att.Duration <= w.cfg.FastAnswer:
		// Any quick answer that is not a sign of congestion shows room for more, a 404 as
		// much as a 200: the limit measures the receiver's capacity, not its verdicts.
		a.signal = signalFast
	}
	if s := att.Status; s != http.StatusGone {
		d.obs = &observation{webhook: j.claim.Webhook, ok: s >= 200 && s < 300, status: s, why: att.Error, retryAfter: retryAfter}
	}
	return d, a
}

// retryAfterOf returns the wait a 429 or 503 answer asked for with Retry-After, 0 when none.
func retryAfterOf(a *hookd.Attempt, now time.Time) time.Duration {
	if a.Status != http.StatusTooManyRequests && a.Status != http.StatusServiceUnavailable {
		return 0
	}
	after, _ := hookd.RetryAfter(a.ResponseHeaders, now)
	return after
}

// attempt sends one claimed delivery and decides what follows. judged is false when the
// attempt says nothing of the receiver: it was not made (webhook deleted or disabled) or was
// cut by shutdown.
func (w *Worker) attempt(ctx context.Context, c *hookd.Claim) (res *hookd.AttemptResult, judged bool) {
	d := c.Delivery
	res = &hookd.AttemptResult{ClaimToken: c.Token}
	switch {
	case c.Webhook == nil:
		res.Attempt = hookd.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, StartedAt: w.clock.Now(), Error: "webhook was deleted"}
		res.Outcome = hookd.OutcomeFailed
		return res, false
	case !c.Webhook.Enabled && d.RetryOf == 0:
		// Manual retries go out even to a disabled webhook, as in DocSpace.
		res.Attempt = hookd.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, StartedAt: w.clock.Now(), Error: "webhook is disabled"}
		res.Outcome = hookd.OutcomeFailed
		w.logAttempt(res)
		return res, false
	}
	res.Attempt = w.sender.Send(ctx, c, w.clock.Now())
	if ctx.Err() != nil && res.Attempt.Status == 0 {
		// Cut short by shutdown, not by the receiver: due again at once, on any node.
		res.Attempt.Error = "attempt cancelled: hookd was shutting down"
		res.Outcome = hookd.OutcomeRetry
		res.NextAttemptAt = w.clock.Now()
		w.logAttempt(res)
		return res, false
	}
	outcome, delay := hookd.Classify(w.cfg.Schedule, res.Attempt.Number, res.Attempt.Status)
	res.Outcome = outcome
	if outcome == hookd.OutcomeRetry {
		now := w.clock.Now()
		res.NextAttemptAt = now.Add(hookd.Jitter(delay, w.cfg.RandFunc()))
		// A receiver that says when to come back (429, 503) is not retried sooner.
		if after := retryAfterOf(&res.Attempt, now); now.Add(after).After(res.NextAttemptAt) {
			res.NextAttemptAt = now.Add(after)
		}
	}
	if res.Attempt.Status == http.StatusGone {
		res.DisableWebhook = "receiver answered 410 Gone"
		w.log.Warn("receiver answered 410 Gone: disabling webhook", "webhook_id", c.Webhook.ID, "delivery_id", d.ID)
	}
	w.logAttempt(res)
	return res, true
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
