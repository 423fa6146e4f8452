package delivery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// fakeHealthStore keeps webhooks in memory and moves their health as the stores do: a
// compare-and-set from the state the caller saw.
type fakeHealthStore struct {
	hooks map[int64]*hookd.Webhook
	calls []hookd.WebhookHealthParams
	now   time.Time
	fail  error // returned by the next call, then cleared
}

func (s *fakeHealthStore) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.calls = append(s.calls, *p)
	if err := s.fail; err != nil {
		s.fail = nil
		return nil, false, err
	}
	w := s.hooks[p.ID]
	from := p.From
	if from == "" {
		from = hookd.HealthHealthy
	}
	if healthOf(w) != from {
		c := *w
		return &c, false, nil
	}
	if healthOf(w) != p.To {
		now := s.now
		w.HealthSince = &now
	}
	w.Health, w.HealthReason, w.ProbeAt, w.Probes = p.To, p.Reason, nil, 0
	if p.To == hookd.HealthPaused {
		at := p.ProbeAt
		w.ProbeAt, w.Probes = &at, p.Probes
	}
	c := *w
	return &c, true, nil
}

// set changes webhook id as another node or a person would, at s.now.
func (s *fakeHealthStore) set(id int64, h hookd.WebhookHealth, probeAt time.Time) {
	w := s.hooks[id]
	now := s.now
	w.Health, w.HealthSince, w.ProbeAt = h, &now, nil
	if h == hookd.HealthPaused {
		w.ProbeAt = &probeAt
	}
}

// snapshot returns webhook id as a claim made now would carry it.
func (s *fakeHealthStore) snapshot(id int64) *hookd.Webhook {
	c := *s.hooks[id]
	return &c
}

type trackerBench struct {
	t     *tracker
	store *fakeHealthStore
	logs  *bytes.Buffer
	now   time.Time
}

// newTrackerBench returns a tracker of webhook 7 (healthy, enabled) with no jitter.
func newTrackerBench(policy HealthPolicy) *trackerBench {
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	store := &fakeHealthStore{hooks: map[int64]*hookd.Webhook{7: {ID: 7, Enabled: true}}, now: t0}
	l := newLoads(2, 16, time.Second, time.Second, log)
	return &trackerBench{t: newTracker(policy, store, l, log, func() float64 { return 0.5 }), store: store, logs: logs, now: t0}
}

// answer feeds n attempts of webhook 7 claimed now, answered with status (Retry-After
// retryAfter), one batch each, a second apart.
func (b *trackerBench) answer(n, status int, retryAfter time.Duration) {
	for range n {
		b.now = b.now.Add(time.Second)
		b.store.now = b.now
		o := observation{webhook: b.store.snapshot(7), ok: status/100 == 2, status: status, retryAfter: retryAfter}
		if !o.ok {
			o.why = why(status)
		}
		observe(b.t, context.Background(), b.now, []observation{o})
	}
}

// observe judges a batch and writes what it asks for, as the recorder does.
func observe(t *tracker, ctx context.Context, now time.Time, obs []observation) {
	t.commitAll(ctx, now, t.judge(now, obs))
}

// why is the attempt error of an answer with status, 0 for a timeout.
func why(status int) string {
	if status == 0 {
		return "timeout after 30s"
	}
	return "receiver answered " + strconv.Itoa(status)
}

func (b *trackerBench) webhook(tb testing.TB) *hookd.Webhook {
	tb.Helper()
	return b.store.hooks[7]
}

func TestHealthConsecutiveFailures(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	b.answer(4, 500, 0)
	if got := b.webhook(t).Health; got != "" || len(b.store.calls) != 0 {
		t.Fatalf("got health %q after %d writes, want healthy untouched after 4 failures", got, len(b.store.calls))
	}
	b.answer(1, 500, 0)
	if w := b.webhook(t); w.Health != hookd.HealthDegraded || w.HealthReason != "5 failures in a row; last: receiver answered 500" {
		t.Fatalf("got %q (%q), want degraded after 5 failures", w.Health, w.HealthReason)
	}
	b.answer(14, 500, 0)
	if got := b.webhook(t).Health; got != hookd.HealthDegraded || len(b.store.calls) != 1 {
		t.Fatalf("got %q after %d writes, want still degraded after 19 failures, written once", got, len(b.store.calls))
	}
	b.answer(1, 0, 0)
	w := b.webhook(t)
	if w.Health != hookd.HealthPaused || w.Probes != 0 || !strings.HasPrefix(w.HealthReason, "20 failures in a row") {
		t.Fatalf("got %q (%q, %d probes), want paused after 20 failures", w.Health, w.HealthReason, w.Probes)
	}
	if got, want := *w.ProbeAt, b.now.Add(DefaultProbeMin); !got.Equal(want) {
		t.Errorf("got first probe at %s, want %s (ProbeMin after the pause)", got, want)
	}
	if since, ok := b.t.loads.pausedSince(7); !ok || !since.Equal(*w.HealthSince) {
		t.Errorf("got paused since %s (%v) in loads, want %s", since, ok, w.HealthSince)
	}
	if c := b.store.calls[1]; c.From != hookd.HealthDegraded {
		t.Errorf("got the pause written from %q, want from degraded", c.From)
	}
	for _, want := range []string{"webhook_id=7 from=healthy to=degraded", "webhook_id=7 from=degraded to=paused"} {
		if !strings.Contains(b.logs.String(), want) {
			t.Errorf("got logs without %q:\n%s", want, b.logs)
		}
	}
}

func TestHealthDegradeAndRecover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		feed       func(b *trackerBench)
		wantReason string
	}{
		{"FailureShare", func(b *trackerBench) {
			for range 5 { // 50 % failures, never 5 in a row
				b.answer(1, 200, 0)
				b.answer(1, 500, 0)
			}
		}, "5 of the last 10 attempts failed; last: receiver answered 500"},
		{"TooManyRequests", func(b *trackerBench) { b.answer(1, 429, 5*time.Second) }, "receiver answered 429"},
		{"Unavailable", func(b *trackerBench) { b.answer(1, 503, 0) }, "receiver answered 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newTrackerBench(HealthPolicy{})
			tt.feed(b)
			if w := b.webhook(t); w.Health != hookd.HealthDegraded || w.HealthReason != tt.wantReason {
				t.Fatalf("got %q (%q), want degraded (%q)", w.Health, w.HealthReason, tt.wantReason)
			}
			b.answer(2, 200, 0)
			if got := b.webhook(t).Health; got != hookd.HealthDegraded {
				t.Fatalf("got %q after 2 successes, want still degraded", got)
			}
			b.answer(1, 200, 0)
			if w := b.webhook(t); w.Health != hookd.HealthHealthy || w.HealthReason != "" {
				t.Errorf("got %q (%q) after 3 successes, want healthy without a reason", w.Health, w.HealthReason)
			}
		})
	}
}

func TestHealthRetryAfterPauses(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	b.answer(1, 503, time.Minute)
	w := b.webhook(t)
	if w.Health != hookd.HealthPaused || w.HealthReason != "receiver answered 503 with Retry-After 1m0s" {
		t.Fatalf("got %q (%q), want paused by the Retry-After", w.Health, w.HealthReason)
	}
	if got, want := *w.ProbeAt, b.now.Add(time.Minute); !got.Equal(want) {
		t.Errorf("got probe at %s, want %s (the Retry-After)", got, want)
	}
}

func TestHealthProbes(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{ProbeMin: 5 * time.Second, ProbeMax: 30 * time.Second})
	b.answer(1, 503, time.Minute)
	// The probes: each answer is of a claim whose snapshot says paused.
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second} {
		b.answer(1, 500, 0)
		w := b.webhook(t)
		if w.Health != hookd.HealthPaused || w.Probes != i+1 || w.HealthReason != "probe failed: receiver answered 500" {
			t.Fatalf("probe %d: got %q (%q) with %d failed probes, want paused with %d", i+1, w.Health, w.HealthReason, w.Probes, i+1)
		}
		if got := w.ProbeAt.Sub(b.now); got != want {
			t.Errorf("probe %d: got the next probe in %s, want %s", i+1, got, want)
		}
	}
	b.answer(1, 200, 0)
	if w := b.webhook(t); w.Health != hookd.HealthHealthy || w.HealthReason != "probe delivered" || w.ProbeAt != nil {
		t.Errorf("got %q (%q, probe at %v), want healthy after a delivered probe", w.Health, w.HealthReason, w.ProbeAt)
	}
	if _, ok := b.t.loads.pausedSince(7); ok {
		t.Errorf("got webhook still paused in loads, want it cleared")
	}
}

func TestHealthProbeBackoffJitter(t *testing.T) {
	t.Parallel()
	p := HealthPolicy{}.withDefaults()
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0.5, 5 * time.Second},
		{1, 0.5, 10 * time.Second},
		{0, 0, 4500 * time.Millisecond}, // -10 %
		{3, 0.999999, 44 * time.Second},
		{7, 0.5, 10 * time.Minute},
		{1000, 0.5, 10 * time.Minute},
	}
	for _, tt := range tests {
		if got := p.backoff(tt.n, tt.r); got.Round(time.Second) != tt.want.Round(time.Second) {
			t.Errorf("backoff(%d, %v): got %s, want %s", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestHealthStragglersHeldAgain(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	old := b.store.snapshot(7) // claimed before the pause
	b.answer(1, 503, time.Minute)
	calls := len(b.store.calls)
	pausedAt := *b.webhook(t).ProbeAt

	observe(b.t, context.Background(), b.now, []observation{{webhook: old, ok: true, status: 200}})
	if got := b.webhook(t).Health; got != hookd.HealthPaused || len(b.store.calls) != calls {
		t.Fatalf("got %q after %d writes, want a straggler's success to change nothing", got, len(b.store.calls)-calls)
	}
	observe(b.t, context.Background(), b.now, []observation{{webhook: old, status: 500, why: "receiver answered 500"}})
	if len(b.store.calls) != calls+1 {
		t.Fatalf("got %d writes for a straggler's failure, want 1 (hold its delivery again)", len(b.store.calls)-calls)
	}
	c := b.store.calls[calls]
	if c.From != hookd.HealthPaused || c.To != hookd.HealthPaused || c.Probes != 0 || !c.ProbeAt.Equal(pausedAt) {
		t.Errorf("got %+v, want paused to paused with the same probe time and count", c)
	}
	if w := b.webhook(t); w.HealthReason != "receiver answered 503 with Retry-After 1m0s" {
		t.Errorf("got reason %q, want the pause's kept", w.HealthReason)
	}
}

func TestHealthPersonsPause(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	old := b.store.snapshot(7)
	b.store.set(7, hookd.HealthPaused, hookd.NeverProbe)
	claimed := b.store.snapshot(7) // e.g. a lease that ended

	observe(b.t, context.Background(), b.now, []observation{{webhook: claimed, ok: true, status: 200}})
	observe(b.t, context.Background(), b.now, []observation{{webhook: old, status: 500}})
	if w := b.webhook(t); w.Health != hookd.HealthPaused || !w.ProbeAt.Equal(hookd.NeverProbe) {
		t.Fatalf("got %q probe at %v, want a person's pause kept, never probed", w.Health, w.ProbeAt)
	}
	if len(b.store.calls) != 1 || !b.store.calls[0].ProbeAt.Equal(hookd.NeverProbe) {
		t.Errorf("got writes %+v, want one re-hold that keeps NeverProbe", b.store.calls)
	}
}

func TestHealthLostRace(t *testing.T) {
	t.Parallel()
	t.Run("PauseRetriedFromTheNewState", func(t *testing.T) {
		t.Parallel()
		b := newTrackerBench(HealthPolicy{})
		b.answer(4, 500, 0)
		old := b.store.snapshot(7)
		b.store.set(7, hookd.HealthDegraded, time.Time{}) // another node degraded it first
		observe(b.t, context.Background(), b.now, []observation{{webhook: old, status: 503, retryAfter: time.Minute}})
		if w := b.webhook(t); w.Health != hookd.HealthPaused {
			t.Fatalf("got %q, want paused: the evidence asked for a pause", w.Health)
		}
		if n := len(b.store.calls); n != 2 || b.store.calls[1].From != hookd.HealthDegraded {
			t.Errorf("got writes %+v, want a lost one from healthy, then one from degraded", b.store.calls)
		}
	})
	t.Run("ProbeFailureYieldsToResume", func(t *testing.T) {
		t.Parallel()
		b := newTrackerBench(HealthPolicy{})
		b.answer(1, 503, time.Minute)
		probe := b.store.snapshot(7)
		b.store.set(7, hookd.HealthHealthy, time.Time{}) // a person resumed it meanwhile
		observe(b.t, context.Background(), b.now, []observation{{webhook: probe, status: 500}})
		if w := b.webhook(t); w.Health != hookd.HealthHealthy {
			t.Errorf("got %q, want the person's resume kept", w.Health)
		}
		if _, ok := b.t.loads.pausedSince(7); ok {
			t.Errorf("got webhook still paused in loads, want the store's state taken")
		}
	})
}

func TestHealthWriteFailureKeptForLater(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	b.store.fail = errors.New("database is locked")
	b.answer(1, 503, time.Minute) // retried at once: written
	if w := b.webhook(t); w.Health != hookd.HealthPaused {
		t.Fatalf("got %q, want paused after a retried write", w.Health)
	}

	b = newTrackerBench(HealthPolicy{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	observe(b.t, ctx, b.now, []observation{{webhook: b.store.snapshot(7), status: 503, retryAfter: time.Minute}})
	if got := b.webhook(t).Health; got != "" {
		t.Fatalf("got %q, want nothing written with the context cancelled", got)
	}
	b.answer(1, 500, 0) // the next attempt of the webhook writes the pause still asked for
	if w := b.webhook(t); w.Health != hookd.HealthPaused || !strings.Contains(w.HealthReason, "Retry-After") {
		t.Errorf("got %q (%q), want the pending pause written", w.Health, w.HealthReason)
	}
}

func TestHealthOff(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{Off: true})
	b.answer(30, 503, time.Minute)
	if len(b.store.calls) != 0 {
		t.Fatalf("got writes %+v with Off, want none", b.store.calls)
	}
	b.store.set(7, hookd.HealthPaused, b.now) // paused before, or by another node
	b.answer(1, 200, 0)
	if got := b.webhook(t).Health; got != hookd.HealthHealthy {
		t.Errorf("got %q after a delivered probe with Off, want healthy", got)
	}
}

func TestHealthIgnoresDisabled(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{})
	b.store.hooks[7].Enabled = false
	b.answer(30, 500, 0)
	if len(b.store.calls) != 0 {
		t.Errorf("got writes %+v for a disabled webhook, want none", b.store.calls)
	}
}

func TestHealthPostpone(t *testing.T) {
	t.Parallel()
	b := newTrackerBench(HealthPolicy{ProbeMin: 2 * time.Second, PauseOnRetryAfter: 5 * time.Second})
	retrying := func() *hookd.AttemptResult {
		return &hookd.AttemptResult{Outcome: hookd.OutcomeRetry, NextAttemptAt: b.now.Add(100 * time.Millisecond)}
	}
	// Healthy: the schedule stands.
	res, o := retrying(), &observation{webhook: b.store.snapshot(7), status: 500}
	b.t.judge(b.now, []observation{*o})
	if b.t.postpone(res, o, b.now); !res.NextAttemptAt.Equal(b.now.Add(100 * time.Millisecond)) {
		t.Errorf("got next attempt at %s for a healthy webhook, want the schedule's", res.NextAttemptAt)
	}
	// The batch that pauses it: its failures wait for the first probe.
	res, o = retrying(), &observation{webhook: b.store.snapshot(7), status: 503, retryAfter: 5 * time.Second}
	b.t.judge(b.now, []observation{*o})
	if b.t.postpone(res, o, b.now); !res.NextAttemptAt.Equal(b.now.Add(5 * time.Second)) {
		t.Errorf("got next attempt at %s in the batch that pauses, want the first probe's time (+5s)", res.NextAttemptAt)
	}
	// A long pause: never more than the write's timeout.
	b = newTrackerBench(HealthPolicy{})
	res, o = retrying(), &observation{webhook: b.store.snapshot(7), status: 503, retryAfter: time.Hour}
	b.t.judge(b.now, []observation{*o})
	if b.t.postpone(res, o, b.now); !res.NextAttemptAt.Equal(b.now.Add(healthWriteTimeout)) {
		t.Errorf("got next attempt at %s, want at most the health write's timeout away", res.NextAttemptAt)
	}
	// A delivered attempt is left alone.
	res = &hookd.AttemptResult{Outcome: hookd.OutcomeDelivered}
	if b.t.postpone(res, &observation{webhook: b.store.snapshot(7), ok: true, status: 200}, b.now); !res.NextAttemptAt.IsZero() {
		t.Errorf("got next attempt at %s for a delivered attempt, want none", res.NextAttemptAt)
	}
}
