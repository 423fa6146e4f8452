package delivery

import (
	"log/slog"
	"sync"
	"time"
)

// Adaptive per-webhook concurrency (AIMD). Each webhook has a limit of attempts in flight on
// this worker that starts at Config.InitialInflight, grows by 1/limit for each success that
// answered within Config.FastAnswer (about +1 per round trip while the receiver keeps up),
// and halves (never below 1) when the receiver shows congestion: a timeout, a connection
// error, a 429 or a 5xx. It halves at most once per round trip: a failure of an attempt
// that started before the last decrease is old news and is ignored. It never grows past
// Config.PerWebhookInflight, the ceiling. A 429 or 503 with Retry-After also blocks new
// attempts to the webhook until then.

// signal is what an attempt's answer says about the receiver's capacity.
type signal int

const (
	signalNeutral   signal = iota // no news: a slow answer, an attempt not made
	signalFast                    // an answer within FastAnswer, not 429 or 5xx: room for more
	signalCongested               // a timeout, a connection error, a 429 or a 5xx: too many
)

// answer is how an attempt ended, as far as the limiter is concerned.
type answer struct {
	started    time.Time     // when the attempt took its place (tryStart's now)
	took       time.Duration // how long it ran; 0 when it did not run
	signal     signal
	retryAfter time.Duration // > 0: the receiver asked for no attempt before now+retryAfter
}

// hookLoad is one webhook's attempts in flight on this worker and its adaptive limit.
type hookLoad struct {
	active    int           // attempts being sent
	progress  time.Time     // when the last attempt ended, or the first of a busy spell began
	limit     float64       // attempts allowed in flight; its integer part is the cap in force
	decreased time.Time     // when limit last halved: failures of attempts started before are ignored
	blocked   time.Time     // no attempt before then (Retry-After)
	took      time.Duration // moving average of how long its attempts take; 0 before the first
}

// capacity is the number of attempts the webhook may have in flight now.
func (h *hookLoad) capacity() int { return max(int(h.limit), 1) }

// loads counts attempts in flight per webhook and adapts each webhook's limit. The
// dispatcher starts attempts, the senders end them, hence the lock.
type loads struct {
	log        *slog.Logger
	mu         sync.Mutex
	initial    float64 // the limit of a webhook without history
	ceiling    float64
	fast       time.Duration // a 2xx within this grows the limit
	stallAfter time.Duration
	hooks      map[int64]*hookLoad
	suspect    map[int64]bool      // webhooks seen stalled and not answering quickly since
	paused     map[int64]time.Time // webhooks known paused: HealthSince of the pause
}

func newLoads(initial, ceiling int, fast, stallAfter time.Duration, log *slog.Logger) *loads {
	return &loads{
		log: log, initial: float64(min(initial, ceiling)), ceiling: float64(ceiling), fast: fast,
		stallAfter: stallAfter, hooks: map[int64]*hookLoad{}, suspect: map[int64]bool{}, paused: map[int64]time.Time{},
	}
}

// hook returns webhook id's load, created at the initial limit. Callers hold mu.
func (l *loads) hook(id int64) *hookLoad {
	h := l.hooks[id]
	if h == nil {
		h = &hookLoad{limit: l.initial}
		l.hooks[id] = h
	}
	return h
}

// tryStart takes a place for an attempt to webhook id, unless the webhook is at its limit or
// blocked.
func (l *loads) tryStart(id int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hook(id)
	if h.active >= h.capacity() || now.Before(h.blocked) {
		return false
	}
	if h.active == 0 {
		h.progress = now
	}
	h.active++
	return true
}

// finish gives back the place of an attempt to webhook id that ended at now, and adapts the
// webhook's limit to its answer.
func (l *loads) finish(id int64, now time.Time, a answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.took < l.stallAfter {
		delete(l.suspect, id)
	}
	h := l.hooks[id]
	if h == nil {
		return
	}
	h.active--
	h.progress = now
	if a.took > 0 {
		if h.took == 0 {
			h.took = a.took
		} else {
			h.took += (a.took - h.took) / tookWeight
		}
	}
	switch a.signal {
	case signalFast:
		h.limit = min(h.limit+1/h.limit, l.ceiling)
	case signalCongested:
		if !a.started.Before(h.decreased) {
			h.limit = max(h.limit/2, 1)
			h.decreased = now
		}
	}
	if a.retryAfter > 0 {
		if until := now.Add(a.retryAfter); until.After(h.blocked) {
			h.blocked = until
			l.log.Info("receiver asked to wait: no new attempt to the webhook on this worker until then",
				"webhook_id", id, "retry_after", a.retryAfter.String())
		}
	}
	if h.active <= 0 && h.limit == l.initial && !now.Before(h.blocked) {
		delete(l.hooks, id) // nothing to remember: a new spell starts as this one did
	}
}

// stalled reports whether webhook id's waiting claims should be parked: it is blocked, or at
// its limit and either suspect or without an attempt ending for stallAfter (which makes it
// suspect). When it is not, wait says how long until it would be, 0 when it is below its
// limit.
func (l *loads) stalled(id int64, now time.Time) (stalled bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hooks[id]
	switch {
	case h == nil:
		return false, 0
	case now.Before(h.blocked):
		return true, 0
	case h.active < h.capacity():
		return false, 0
	}
	if l.suspect[id] || now.Sub(h.progress) >= l.stallAfter {
		if !l.suspect[id] {
			l.suspect[id] = true
			l.log.Info("webhook stalled: deliveries over its limit are parked until it answers quickly or their lease ends",
				"webhook_id", id, "in_flight", h.active, "no_answer_for", now.Sub(h.progress).Round(time.Millisecond).String())
		}
		return true, 0
	}
	return false, l.stallAfter - now.Sub(h.progress)
}

// room returns how many parked claims of webhook id may be released now: all of them
// (all true) when it is neither suspect nor blocked, none while it is blocked, else as many
// as it has free places under its limit.
func (l *loads) room(id int64, now time.Time) (n int, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hooks[id]
	switch {
	case h != nil && now.Before(h.blocked):
		return 0, false
	case !l.suspect[id]:
		return 0, true
	case h == nil:
		return int(l.initial), false
	}
	return max(h.capacity()-h.active, 0), false
}

// queueBudget is how long the claims waiting for a webhook may take to drain at its current
// pace: a fast receiver may have that many waiting (its limit divided by how long its
// attempts take, times the budget), a slow one a round of its limit. Claims beyond are
// released: released, they keep their place in the due order.
const queueBudget = 10 * time.Millisecond

// tookWeight is the weight of the moving average of attempt durations: each attempt moves it
// 1/tookWeight of the way.
const tookWeight = 8

// full reports whether webhook id has no room for more claims than queued: blocked by a
// Retry-After, or with as many waiting as it drains in queueBudget (at least a round of its
// limit). Without the budget, a fast receiver with a deep backlog would have each attempt
// that ends open room for one claim, and every claim but one released again.
func (l *loads) full(id int64, queued int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hooks[id]
	if h == nil {
		return queued >= max(int(l.initial), 1)
	}
	if now.Before(h.blocked) {
		return true
	}
	allowed := h.capacity()
	if h.took > 0 && h.took < queueBudget {
		allowed = int(int64(allowed) * int64(queueBudget) / int64(h.took))
	}
	return queued >= allowed
}

// nextUnblock returns how long until the first blocked webhook may be tried again; ok is
// false when none is blocked.
func (l *loads) nextUnblock(now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.hooks {
		if d := h.blocked.Sub(now); d > 0 && (!ok || d < wait) {
			wait, ok = d, true
		}
	}
	return wait, ok
}

// limits returns the current limit of every webhook with a state.
func (l *loads) limits() map[int64]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64]float64, len(l.hooks))
	for id, h := range l.hooks {
		out[id] = h.limit
	}
	return out
}

// setPaused records that webhook id is paused since since (its HealthSince), or, with a
// zero since, that it is not. A webhook that resumes starts again from at most the initial
// limit, so that its held backlog drains at a pace the receiver shows it can take.
func (l *loads) setPaused(id int64, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !since.IsZero() {
		l.paused[id] = since
		return
	}
	if _, was := l.paused[id]; was {
		delete(l.paused, id)
		if h := l.hooks[id]; h != nil {
			h.limit = min(h.limit, l.initial)
		}
	}
}

// pausedSince returns when webhook id was paused, as last known to this worker.
func (l *loads) pausedSince(id int64) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	since, ok := l.paused[id]
	return since, ok
}
