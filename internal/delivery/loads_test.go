package delivery

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

var t0 = time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)

// newTestLoads returns loads starting at 2 of a ceiling of 16, fast under 1 s, stalled
// after 1 s.
func newTestLoads() *loads {
	return newLoads(2, 16, time.Second, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startN starts up to n attempts to webhook id at now and returns how many got a place.
func startN(l *loads, id int64, n int, now time.Time) int {
	got := 0
	for range n {
		if l.tryStart(id, now) {
			got++
		}
	}
	return got
}

func TestLoadsGrowsPerRoundTrip(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	now := t0
	// Each round trip: start as many as the limit allows, all answer quickly.
	var caps []int
	for range 12 {
		n := startN(l, 7, 100, now)
		caps = append(caps, n)
		now = now.Add(100 * time.Millisecond)
		for range n {
			l.finish(7, now, answer{started: now.Add(-100 * time.Millisecond), took: 100 * time.Millisecond, signal: signalFast})
		}
	}
	// +1/limit per success is about +1 per round trip, never more.
	for i := 1; i < len(caps); i++ {
		if d := caps[i] - caps[i-1]; d < 0 || d > 1 {
			t.Errorf("got attempts per round trip %v, want each at most one more than the last", caps)
			break
		}
	}
	if caps[0] != 2 || caps[11] < 10 {
		t.Errorf("got attempts per round trip %v, want 2 at first and at least 10 after 11 round trips", caps)
	}
	for range 20 {
		n := startN(l, 7, 100, now)
		for range n {
			l.finish(7, now, answer{started: now, signal: signalFast})
		}
	}
	if got := l.limits()[7]; got != 16 {
		t.Errorf("got limit %v after many quick successes, want the ceiling 16", got)
	}
}

func TestLoadsSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		signal signal
		want   float64
	}{
		{"FastSuccessGrows", signalFast, 8 + 1.0/8},
		{"NeutralKeeps", signalNeutral, 8},
		{"CongestionHalves", signalCongested, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newTestLoads()
			l.hook(7).limit = 8
			l.tryStart(7, t0)
			l.finish(7, t0.Add(time.Second), answer{started: t0, signal: tt.signal})
			if got := l.limits()[7]; got != tt.want {
				t.Errorf("got limit %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadsHalvesOncePerRoundTrip(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	l.hook(7).limit = 16
	if got := startN(l, 7, 16, t0); got != 16 {
		t.Fatalf("got %d started, want 16", got)
	}
	// All 16 time out together: one halving, not sixteen.
	end := t0.Add(30 * time.Second)
	for range 16 {
		l.finish(7, end, answer{started: t0, took: 30 * time.Second, signal: signalCongested})
	}
	if got := l.limits()[7]; got != 8 {
		t.Fatalf("got limit %v after one round of timeouts, want 8", got)
	}
	// An attempt started after the decrease counts again.
	l.tryStart(7, end)
	l.finish(7, end.Add(time.Second), answer{started: end, signal: signalCongested})
	if got := l.limits()[7]; got != 4 {
		t.Errorf("got limit %v, want 4 after a failure of the next round trip", got)
	}
	for range 10 {
		l.tryStart(7, end.Add(2*time.Second))
		l.finish(7, end.Add(3*time.Second), answer{started: end.Add(2 * time.Second), signal: signalCongested})
		end = end.Add(3 * time.Second)
	}
	if got := l.limits()[7]; got != 1 {
		t.Errorf("got limit %v, want never below 1", got)
	}
	if got := startN(l, 7, 3, end); got != 1 {
		t.Errorf("got %d started at limit 1, want 1", got)
	}
}

func TestLoadsRetryAfterBlocks(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	l.tryStart(7, t0)
	l.finish(7, t0, answer{started: t0, signal: signalCongested, retryAfter: 10 * time.Second})
	if l.tryStart(7, t0.Add(5*time.Second)) {
		t.Errorf("got an attempt started 5s into a Retry-After of 10s, want none")
	}
	if stalled, _ := l.stalled(7, t0.Add(5*time.Second)); !stalled {
		t.Errorf("got a blocked webhook not stalled, want its waiting claims parked")
	}
	if n, all := l.room(7, t0.Add(5*time.Second)); n != 0 || all {
		t.Errorf("got room %d (all %v) for parked claims while blocked, want none", n, all)
	}
	if wait, ok := l.nextUnblock(t0.Add(4 * time.Second)); !ok || wait != 6*time.Second {
		t.Errorf("got next unblock in %s (%v), want 6s", wait, ok)
	}
	if !l.tryStart(7, t0.Add(10*time.Second)) {
		t.Errorf("got no attempt once the Retry-After ended, want one")
	}
	if _, all := l.room(7, t0.Add(10*time.Second)); !all {
		t.Errorf("got parked claims kept once the Retry-After ended, want them all released")
	}
	if _, ok := l.nextUnblock(t0.Add(10 * time.Second)); ok {
		t.Errorf("got a webhook still blocked after its Retry-After, want none")
	}
}

func TestLoadsForgetsIdleDefaults(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	l.tryStart(7, t0)
	l.finish(7, t0, answer{started: t0, signal: signalNeutral})
	if _, ok := l.limits()[7]; ok {
		t.Errorf("got a state kept for an idle webhook at the initial limit, want none")
	}
	l.tryStart(8, t0)
	l.finish(8, t0, answer{started: t0, signal: signalFast})
	if got := l.limits()[8]; got != 2.5 {
		t.Errorf("got limit %v for an idle webhook that grew, want it kept at 2.5", got)
	}
}

func TestLoadsStallsAtDynamicLimit(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	if got := startN(l, 7, 5, t0); got != 2 {
		t.Fatalf("got %d started, want the initial limit 2", got)
	}
	if stalled, wait := l.stalled(7, t0.Add(400*time.Millisecond)); stalled || wait != 600*time.Millisecond {
		t.Errorf("got stalled %v wait %s, want not yet, in 600ms", stalled, wait)
	}
	if stalled, _ := l.stalled(7, t0.Add(time.Second)); !stalled {
		t.Errorf("got not stalled at its limit with nothing ending for 1s, want stalled")
	}
	if n, all := l.room(7, t0.Add(time.Second)); n != 0 || all {
		t.Errorf("got room %d (all %v) for a suspect webhook at its limit, want 0", n, all)
	}
	// A slow timeout halves the limit to 1: one place frees, none is free.
	l.finish(7, t0.Add(2*time.Second), answer{started: t0, took: 2 * time.Second, signal: signalCongested})
	if n, _ := l.room(7, t0.Add(2*time.Second)); n != 0 {
		t.Errorf("got room %d with 1 in flight at limit 1, want 0", n)
	}
	// A quick answer clears the suspicion.
	l.finish(7, t0.Add(2*time.Second), answer{started: t0.Add(time.Second), took: 10 * time.Millisecond, signal: signalFast})
	if _, all := l.room(7, t0.Add(2*time.Second)); !all {
		t.Errorf("got a webhook still suspect after a quick answer, want its parked claims released")
	}
}

func TestLoadsResumeStartsLow(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	l.hook(7).limit = 12
	l.setPaused(7, t0)
	if since, ok := l.pausedSince(7); !ok || !since.Equal(t0) {
		t.Fatalf("got paused since %s (%v), want %s", since, ok, t0)
	}
	l.setPaused(7, time.Time{})
	if _, ok := l.pausedSince(7); ok {
		t.Errorf("got webhook still paused, want resumed")
	}
	if got := l.limits()[7]; got != 2 {
		t.Errorf("got limit %v after resuming, want the initial 2", got)
	}
}

// TestLoadsQueueBudget: a webhook may have as many claims waiting as it drains in
// queueBudget at its pace, but never fewer than a round of its limit.
func TestLoadsQueueBudget(t *testing.T) {
	t.Parallel()
	l := newTestLoads()
	for id, took := range map[int64]time.Duration{7: time.Millisecond, 8: 200 * time.Millisecond} {
		l.hook(id).limit = 4
		l.tryStart(id, t0)
		l.finish(id, t0, answer{started: t0, took: took, signal: signalNeutral})
	}
	tests := []struct {
		name   string
		id     int64
		queued int
		want   bool
	}{
		{"FastBelowBudget", 7, 39, false}, // 4 in flight, 1 ms each: 40 drain in 10 ms
		{"FastAtBudget", 7, 40, true},
		{"SlowBelowRound", 8, 3, false}, // 200 ms each: a round of the limit
		{"SlowAtRound", 8, 4, true},
		{"UnknownAtInitial", 9, 2, true},
	}
	for _, tt := range tests {
		if got := l.full(tt.id, tt.queued, t0); got != tt.want {
			t.Errorf("%s: full(%d, %d) = %v, want %v", tt.name, tt.id, tt.queued, got, tt.want)
		}
	}
	// The average follows the attempts: after slow answers the fast webhook gets a round only.
	for range 40 {
		l.tryStart(7, t0)
		l.finish(7, t0, answer{started: t0, took: 200 * time.Millisecond, signal: signalNeutral})
	}
	if !l.full(7, 4, t0) {
		t.Errorf("full(7, 4) = false after 40 answers of 200 ms, want true")
	}
}
