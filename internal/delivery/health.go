package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookd/hookd"
)

// Endpoint health (docs/health.md). The worker judges each receiver from the attempts it
// records: a healthy webhook that fails often is degraded, one that keeps failing (or asks
// to be left alone for a while) is paused, and a degraded one that succeeds again is healthy.
// The state lives in the store, so that every node sees it; this worker keeps only the
// evidence, in memory, and moves the state with WebhookHealthSet, a compare-and-set from the
// state it last saw. While a webhook is paused its deliveries are held by the store; the
// prober (Worker.probe) releases one of them now and then, and the answer to that probe
// resumes the webhook or pauses it again for longer.

// Defaults of HealthPolicy.
const (
	DefaultDegradeAfter      = 5
	DefaultPauseAfter        = 20
	DefaultFailureShare      = 0.5
	DefaultHealthWindow      = 20
	DefaultHealthWindowMin   = 10
	DefaultRecoverAfter      = 3
	DefaultPauseOnRetryAfter = 30 * time.Second
	DefaultProbeMin          = 5 * time.Second
	DefaultProbeMax          = 10 * time.Minute
	// healthWriteTimeout bounds the retries of one WebhookHealthSet: the recorder waits for it.
	healthWriteTimeout = 10 * time.Second
)

// HealthPolicy says when the worker moves a webhook between healthy, degraded and paused.
// A failure is any attempt without a 2xx answer, except attempts cut by shutdown and those
// not made because the webhook is disabled or deleted. The zero value of a field means its
// default.
type HealthPolicy struct {
	// Off stops judging receivers: no webhook is degraded or paused by its answers. Webhooks
	// already paused (by an earlier run or another node) are still probed, and resume when a
	// probe is delivered.
	Off bool
	// DegradeAfter consecutive failures degrade a healthy webhook. Default 5.
	DegradeAfter int
	// FailureShare of failures among the last Window attempts, once WindowMin were seen,
	// degrades a healthy webhook too. Defaults 0.5, 20 and 10.
	FailureShare float64
	Window       int
	WindowMin    int
	// RecoverAfter consecutive successes make a degraded webhook healthy again. Default 3.
	RecoverAfter int
	// PauseAfter consecutive failures pause a healthy or degraded webhook. Default 20.
	PauseAfter int
	// PauseOnRetryAfter: a 429 or 503 whose Retry-After asks to wait at least this long
	// pauses the webhook until then (a shorter one degrades it). Default 30 s.
	PauseOnRetryAfter time.Duration
	// ProbeMin and ProbeMax bound the wait before the next probe of a paused webhook: ProbeMin
	// after the pause, doubling after each failed probe up to ProbeMax, jittered.
	// Defaults 5 s and 10 min.
	ProbeMin time.Duration
	ProbeMax time.Duration
}

// withDefaults returns p with its zero fields set to their defaults.
func (p HealthPolicy) withDefaults() HealthPolicy {
	setDefault(&p.DegradeAfter, DefaultDegradeAfter)
	setDefault(&p.PauseAfter, DefaultPauseAfter)
	setDefault(&p.Window, DefaultHealthWindow)
	setDefault(&p.WindowMin, DefaultHealthWindowMin)
	setDefault(&p.RecoverAfter, DefaultRecoverAfter)
	setDefault(&p.FailureShare, DefaultFailureShare)
	setDefault(&p.PauseOnRetryAfter, DefaultPauseOnRetryAfter)
	setDefault(&p.ProbeMin, DefaultProbeMin)
	setDefault(&p.ProbeMax, DefaultProbeMax)
	p.WindowMin = min(p.WindowMin, p.Window)
	p.ProbeMax = max(p.ProbeMax, p.ProbeMin)
	return p
}

// setDefault sets *v to d when it is zero or negative.
func setDefault[T int | int64 | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// backoff returns the wait before the next probe after n failed probes, jittered with r.
func (p *HealthPolicy) backoff(n int, r float64) time.Duration {
	d := p.ProbeMin
	for range min(n, 40) {
		if d >= p.ProbeMax {
			break
		}
		d *= 2
	}
	return hookd.Jitter(min(d, p.ProbeMax), r)
}

// observation is one recorded attempt as evidence of its receiver's health.
type observation struct {
	webhook    *hookd.Webhook // as claimed: a paused one makes the attempt a probe
	ok         bool           // a 2xx answer
	status     int
	why        string        // the attempt's error, for the reason shown to people
	retryAfter time.Duration // what a 429 or 503 asked for, 0 when nothing
}

// healthStore is what the tracker needs of the store.
type healthStore interface {
	WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error)
}

// tracker keeps the evidence of each webhook's health and moves its state in the store. It
// is used by the recorder goroutine only.
type tracker struct {
	policy HealthPolicy
	store  healthStore
	loads  *loads // told which webhooks are paused, so that stale claims are held back
	log    *slog.Logger
	rand   func() float64
	hooks  map[int64]*evidence
}

func newTracker(policy HealthPolicy, store healthStore, l *loads, log *slog.Logger, rand func() float64) *tracker {
	return &tracker{policy: policy.withDefaults(), store: store, loads: l, log: log, rand: rand, hooks: map[int64]*evidence{}}
}

// judge applies the attempts of one batch, in order, to the evidence of their webhooks and
// returns the evidence it judged, whose changes commit writes once the attempts are
// recorded.
func (t *tracker) judge(now time.Time, obs []observation) []*evidence {
	var judged []*evidence
	for _, group := range byWebhook(obs) {
		e := t.entry(group[0].webhook.ID)
		for _, o := range group {
			e.adopt(o.webhook)
		}
		e.probeFailed = false
		for _, o := range group {
			t.step(e, o, now)
		}
		if e.want != nil && e.judged.IsZero() {
			e.judged = now
		}
		judged = append(judged, e)
	}
	return judged
}

// commitAll writes the changes judge asked for, at most one per webhook; now is the time
// of the writes.
func (t *tracker) commitAll(ctx context.Context, now time.Time, judged []*evidence) {
	for _, e := range judged {
		t.commit(ctx, e, now)
	}
	t.publish()
}

// rehold holds again the deliveries of the given claims' webhooks that are paused: the
// claims were released because they were leased before the pause, which held only what was
// not leased. Claims parked by the dispatcher carry no webhook; the evidence knows it.
func (t *tracker) rehold(ctx context.Context, now time.Time, claims []*hookd.Claim) {
	var ids []int64
	seen := map[int64]bool{}
	for _, c := range claims {
		id := c.Delivery.WebhookID
		if _, known := t.hooks[id]; !known && c.Webhook == nil {
			continue // never seen paused here: nothing to hold
		}
		e := t.entry(id)
		if c.Webhook != nil {
			e.adopt(c.Webhook)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		e := t.hooks[id]
		e.rehold = e.health == hookd.HealthPaused
		t.commit(ctx, e, now)
	}
	t.publish()
}

// postpone keeps a failed attempt to a webhook that is paused (or that judge is pausing)
// from coming due before its next probe, or healthWriteTimeout if sooner. Such an attempt (a
// probe, one leased before the pause, or one of those that paused it) becomes retrying when
// recorded, and is held only by the write that follows: until then it must not be claimed,
// or it would be sent as if it were a probe. Once released it is due at once, a probe having
// gone out first.
func (t *tracker) postpone(res *hookd.AttemptResult, o *observation, now time.Time) {
	if o == nil || res.Outcome != hookd.OutcomeRetry || o.webhook == nil {
		return
	}
	e := t.hooks[o.webhook.ID]
	if e == nil || e.state() != hookd.HealthPaused {
		return
	}
	next := maxTime(e.probeAt, now.Add(t.policy.ProbeMin))
	if e.want != nil {
		next = e.want.ProbeAt
	}
	res.NextAttemptAt = maxTime(res.NextAttemptAt, minTime(next, now.Add(healthWriteTimeout)))
}

// byWebhook groups the observations of enabled webhooks by webhook, keeping their order.
func byWebhook(obs []observation) [][]observation {
	var groups [][]observation
	at := map[int64]int{}
	for _, o := range obs {
		if o.webhook == nil || !o.webhook.Enabled {
			continue // a disabled webhook's state is "disabled" whatever its receiver says
		}
		i, ok := at[o.webhook.ID]
		if !ok {
			i = len(groups)
			at[o.webhook.ID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], o)
	}
	return groups
}

func (t *tracker) entry(id int64) *evidence {
	e := t.hooks[id]
	if e == nil {
		e = &evidence{id: id, health: hookd.HealthHealthy, window: make([]bool, t.policy.Window)}
		t.hooks[id] = e
	}
	return e
}

// publish tells the dispatcher which webhooks are paused.
func (t *tracker) publish() {
	for id, e := range t.hooks {
		since, paused := t.loads.pausedSince(id)
		switch {
		case e.health == hookd.HealthPaused && (!paused || !since.Equal(e.since)):
			t.loads.setPaused(id, e.since)
		case e.health != hookd.HealthPaused && paused:
			t.loads.setPaused(id, time.Time{})
		}
	}
}

// step applies one observation to e: it updates the evidence and sets e.want when the state
// should change.
func (t *tracker) step(e *evidence, o observation, now time.Time) {
	p := &t.policy
	state := e.state()
	if state == hookd.HealthPaused {
		switch {
		case e.manual() || o.webhook.Health != hookd.HealthPaused:
			// Paused by a person, or an attempt leased before the pause: its delivery is
			// held again on failure; it proves nothing either way.
			e.rehold = e.rehold || !o.ok
		case o.ok:
			e.move(hookd.HealthHealthy, "probe delivered", time.Time{}, 0)
		case !e.probeFailed:
			e.probeFailed = true
			n := e.wantProbes() + 1
			wait := max(p.backoff(n, t.rand()), o.retryAfter)
			e.move(hookd.HealthPaused, "probe failed: "+o.why, now.Add(wait), n)
		}
		return
	}
	if p.Off {
		return
	}
	e.push(!o.ok)
	if o.ok {
		e.failures = 0
		e.successes++
		if state == hookd.HealthDegraded && e.successes >= p.RecoverAfter {
			e.move(hookd.HealthHealthy, "", time.Time{}, 0)
		}
		return
	}
	e.successes = 0
	e.failures++
	switch {
	case e.failures >= p.PauseAfter:
		e.move(hookd.HealthPaused, fmt.Sprintf("%d failures in a row; last: %s", e.failures, o.why), now.Add(p.backoff(0, t.rand())), 0)
	case o.retryAfter >= p.PauseOnRetryAfter:
		e.move(hookd.HealthPaused, fmt.Sprintf("receiver answered %d with Retry-After %s", o.status, o.retryAfter), now.Add(o.retryAfter), 0)
	case state != hookd.HealthHealthy:
	case e.failures >= p.DegradeAfter:
		e.move(hookd.HealthDegraded, fmt.Sprintf("%d failures in a row; last: %s", e.failures, o.why), time.Time{}, 0)
	case e.seen >= p.WindowMin && float64(e.failed) >= p.FailureShare*float64(e.seen):
		e.move(hookd.HealthDegraded, fmt.Sprintf("%d of the last %d attempts failed; last: %s", e.failed, e.seen, o.why), time.Time{}, 0)
	case o.status == 429 || o.status == 503:
		e.move(hookd.HealthDegraded, fmt.Sprintf("receiver answered %d", o.status), time.Time{}, 0)
	}
}

// commit writes e's pending change, or holds its deliveries again, with a compare-and-set
// from the state e last saw. When another node or a person changed the state first, e takes
// the store's state; a pause that the evidence asked for is then tried again from it, so
// that it is not lost.
func (t *tracker) commit(ctx context.Context, e *evidence, now time.Time) {
	p, retryPause := e.want, e.want != nil && e.want.To == hookd.HealthPaused && e.wantFrom != hookd.HealthPaused
	if p == nil && e.rehold && e.health == hookd.HealthPaused {
		probeAt := e.probeAt
		if !probeAt.Equal(hookd.NeverProbe) {
			probeAt = maxTime(probeAt, now.Add(t.policy.ProbeMin)) // a probe may be out meanwhile
		}
		p = &hookd.WebhookHealthParams{ID: e.id, To: hookd.HealthPaused, Reason: e.reason, ProbeAt: probeAt, Probes: e.probes}
	}
	e.rehold = false
	if p == nil {
		return
	}
	if p == e.want && p.To == hookd.HealthPaused && !e.judged.IsZero() {
		// The probe time counts from the pause, not from the judgement: recording the
		// attempts in between may have taken a while.
		p.ProbeAt = p.ProbeAt.Add(max(now.Sub(e.judged), 0))
	}
	e.judged = time.Time{}
	ctx, cancel := context.WithTimeout(ctx, healthWriteTimeout)
	defer cancel()
	for range 3 {
		from := e.health
		p.From = from
		var w *hookd.Webhook
		var ok bool
		if !retry(ctx, t.log, "set webhook health", 1, func(ctx context.Context) (err error) {
			w, ok, err = t.store.WebhookHealthSet(ctx, p)
			return err
		}) {
			return // e.want stays: the webhook's next recorded attempt tries again
		}
		changed := p == e.want && (from != p.To || p.Probes > 0)
		e.take(w)
		if ok {
			e.want = nil
			if changed {
				t.logChange(e, from)
			}
			return
		}
		t.log.Info("webhook health changed elsewhere first", "webhook_id", e.id, "from", from, "to", e.health)
		if !retryPause || !w.Enabled || e.health == hookd.HealthPaused {
			e.want = nil
			return
		}
		e.want = p // the evidence still asks for a pause, now from the store's state
	}
}

func (t *tracker) logChange(e *evidence, from hookd.WebhookHealth) {
	args := []any{"webhook_id", e.id, "from", from, "to", e.health, "reason", e.reason}
	switch e.health {
	case hookd.HealthHealthy:
		t.log.Info("webhook health changed", args...)
	case hookd.HealthPaused:
		args = append(args, "probe_at", e.probeAt, "probes", e.probes)
		t.log.Warn("webhook health changed: deliveries held until a probe is delivered", args...)
	default:
		t.log.Warn("webhook health changed", args...)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// probe starts, every ProbeInterval, the probes of paused webhooks that have come due, and
// wakes the dispatcher when it started one. It returns when ctx ends.
func (w *Worker) probe(ctx context.Context) {
	tick := time.NewTicker(w.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		hooks, err := w.store.WebhookProbeDue(ctx, w.cfg.Lease)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Error("start due probes", "err", err)
		case len(hooks) > 0:
			for _, h := range hooks {
				w.log.Info("probing paused webhook", "webhook_id", h.ID, "failed_probes", h.Probes)
			}
			w.Wake()
		}
	}
}

// heldBack reports whether claim c must not be sent because its webhook is paused: it was
// leased before the pause (which holds only what is not leased), or a person paused the
// webhook (such a pause is never probed). A claim of a paused webhook leased since the pause
// is a probe, and goes.
func (w *Worker) heldBack(c *hookd.Claim) bool {
	wh := c.Webhook
	if wh == nil || !wh.Enabled {
		return false
	}
	if wh.Health == hookd.HealthPaused {
		return wh.ProbeAt != nil && wh.ProbeAt.Equal(hookd.NeverProbe)
	}
	since, paused := w.loads.pausedSince(wh.ID)
	return paused && !timeOf(wh.HealthSince).After(since)
}
