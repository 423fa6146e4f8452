package delivery

import (
	"time"

	"github.com/hookd/hookd"
)

// evidence is what the tracker knows of one webhook: its state as last seen in the store,
// the recent answers of its receiver, and the change those answers ask for.
type evidence struct {
	id int64

	// The state as last seen in the store (a claim's snapshot or a write's answer).
	health  hookd.WebhookHealth // never ""
	since   time.Time           // HealthSince; zero when it never left healthy
	reason  string
	probeAt time.Time
	probes  int

	failures, successes int    // in a row
	window              []bool // the last attempts, true when failed; a ring
	next, seen, failed  int    // ring position, attempts in it, failures in it

	want        *hookd.WebhookHealthParams // the change the evidence asks for, not yet written
	wantFrom    hookd.WebhookHealth        // the state want was decided in
	judged      time.Time                  // when want was decided
	rehold      bool                       // hold the webhook's deliveries again
	probeFailed bool                       // a probe failed in this batch: only one counts
}

// state is the webhook's state with the pending change applied.
func (e *evidence) state() hookd.WebhookHealth {
	if e.want != nil {
		return e.want.To
	}
	return e.health
}

// wantProbes is the number of failed probes with the pending change applied.
func (e *evidence) wantProbes() int {
	if e.want != nil && e.want.To == hookd.HealthPaused {
		return e.want.Probes
	}
	return e.probes
}

// manual reports whether a person paused the webhook: it is never probed.
func (e *evidence) manual() bool {
	return e.health == hookd.HealthPaused && e.probeAt.Equal(hookd.NeverProbe)
}

// adopt takes w's state when it is newer than what e saw: a later HealthSince, more failed
// probes in the same pause, or a person's pause of a paused webhook.
func (e *evidence) adopt(w *hookd.Webhook) {
	since := timeOf(w.HealthSince)
	switch {
	case since.After(e.since),
		since.Equal(e.since) && healthOf(w) == e.health && (w.Probes > e.probes || timeOf(w.ProbeAt).Equal(hookd.NeverProbe) && !e.manual()):
		e.take(w)
	}
}

// take sets e's state to w's, the store's answer to a write.
func (e *evidence) take(w *hookd.Webhook) {
	to := healthOf(w)
	if to != e.state() {
		e.want = nil // the store moved on: the evidence is judged again from its state
		e.enter(to)
	}
	e.health, e.since, e.reason, e.probeAt, e.probes = to, timeOf(w.HealthSince), w.HealthReason, timeOf(w.ProbeAt), w.Probes
}

// move asks for a change to state to.
func (e *evidence) move(to hookd.WebhookHealth, reason string, probeAt time.Time, probes int) {
	if e.want == nil {
		e.wantFrom = e.health
	}
	if to == e.health && to != hookd.HealthPaused {
		e.want = nil // back where the store has it before anything was written
	} else {
		e.want = &hookd.WebhookHealthParams{ID: e.id, To: to, Reason: reason, ProbeAt: probeAt, Probes: probes}
	}
	e.enter(to)
}

// enter resets the evidence that a state change makes moot: a healthy or paused webhook
// starts afresh; a degraded one keeps counting failures towards a pause.
func (e *evidence) enter(to hookd.WebhookHealth) {
	e.successes = 0
	if to == hookd.HealthDegraded {
		return
	}
	e.failures = 0
	clear(e.window)
	e.next, e.seen, e.failed = 0, 0, 0
}

// push adds an attempt to the window.
func (e *evidence) push(failed bool) {
	if len(e.window) == 0 {
		return
	}
	if e.seen == len(e.window) {
		if e.window[e.next] {
			e.failed--
		}
	} else {
		e.seen++
	}
	e.window[e.next] = failed
	if failed {
		e.failed++
	}
	e.next = (e.next + 1) % len(e.window)
}

func healthOf(w *hookd.Webhook) hookd.WebhookHealth {
	if w.Health == "" {
		return hookd.HealthHealthy
	}
	return w.Health
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
