package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// peakReceiver answers after a short delay and tracks the requests in flight. Past capacity
// requests in flight (0: no capacity) it answers 503 at once.
type peakReceiver struct {
	*httptest.Server
	capacity                    int64
	inFlight, total, overloaded atomic.Int64
	mu                          sync.Mutex
	peakAfter                   int64 // requests after which peak is measured
	peak                        int64
}

func newPeakReceiver(tb testing.TB, capacity, peakAfter int64) *peakReceiver {
	tb.Helper()
	p := &peakReceiver{capacity: capacity, peakAfter: peakAfter}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		if p.total.Add(1) > p.peakAfter {
			p.mu.Lock()
			p.peak = max(p.peak, n)
			p.mu.Unlock()
		}
		if p.capacity > 0 && n > p.capacity {
			p.overloaded.Add(1)
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(20 * time.Millisecond) // the receiver's work: requests overlap
		io.WriteString(w, "ok")
	}))
	tb.Cleanup(p.Close)
	return p
}

func (p *peakReceiver) peakInFlight() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// TestWorkerAdaptiveConcurrency shows the adaptive limit at work: a receiver that answers
// 503 past 3 requests in flight sees only a few more than 3 once the first round trips have
// taught the worker its capacity, while a healthy receiver beside it reaches the ceiling.
func TestWorkerAdaptiveConcurrency(t *testing.T) {
	t.Parallel()
	const ceiling = 16
	store := newTestStore(t)
	weak := newPeakReceiver(t, 3, 30)
	strong := newPeakReceiver(t, 0, 0)
	weakHook := createWebhook(t, store, weak.URL)
	strongHook := createWebhook(t, store, strong.URL)
	publish(t, store, 200)
	w := startWorker(t, store, delivery.Config{
		Concurrency: 64, PerWebhookInflight: ceiling,
		Schedule: slices.Repeat([]time.Duration{10 * time.Millisecond}, 20),
		Health:   delivery.HealthPolicy{Off: true}, // the limiter alone
	}, delivery.SenderConfig{})

	var strongTop, weakTop float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		limits := w.Limits()
		strongTop, weakTop = max(strongTop, limits[strongHook.ID]), max(weakTop, limits[weakHook.ID])
		if backlogEmpty(t, store) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, n, err := store.DeliveryList(context.Background(), hookd.DeliveryFilter{GroupStatus: hookd.GroupStatus2xx, Limit: 1}); err != nil || n != 400 {
		t.Fatalf("got %d deliveries delivered (%v), want all 400", n, err)
	}
	t.Logf("weak receiver: %d requests, %d answered 503, peak %d in flight after the first 30, top limit %.1f; strong: peak %d, top limit %.1f",
		weak.total.Load(), weak.overloaded.Load(), weak.peakInFlight(), weakTop, strong.peakInFlight(), strongTop)

	if got := weak.peakInFlight(); got > 3+3 {
		t.Errorf("got a peak of %d requests in flight at the receiver that takes 3, want at most a few over 3", got)
	}
	if got := strongTop; got != ceiling {
		t.Errorf("got a top limit of %.1f for the healthy receiver, want the ceiling %d", got, ceiling)
	}
	if got := strong.peakInFlight(); got < ceiling/2 || got > ceiling {
		t.Errorf("got a peak of %d requests in flight at the healthy receiver, want near the ceiling %d and never above", got, ceiling)
	}
	if share := float64(weak.overloaded.Load()) / float64(weak.total.Load()); share > 0.3 {
		t.Errorf("got %.0f%% of the weak receiver's requests answered 503, want the limiter to keep it low", 100*share)
	}
}

// backlogEmpty reports whether every delivery is final.
func backlogEmpty(tb testing.TB, store hookd.Store) bool {
	tb.Helper()
	stats, err := store.DeliveryStats(context.Background())
	if err != nil {
		tb.Fatalf("stats: %v", err)
	}
	return stats.Backlog() == 0
}

// TestWorkerRetryAfterBlocksWebhook shows that a 429 with Retry-After stops every new
// attempt to that webhook on the worker until then, not only the retry of its delivery.
func TestWorkerRetryAfterBlocksWebhook(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var mu sync.Mutex
	var seen []time.Time
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, time.Now())
		first := len(seen) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	})
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 4)
	w := startWorker(t, store, delivery.Config{PerWebhookInflight: 1, Schedule: []time.Duration{10 * time.Millisecond}}, delivery.SenderConfig{})

	waitState(t, store, hookd.DeliveryStateDelivered, ds...)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 5 {
		t.Fatalf("got %d requests, want 5 (a 429, then the four deliveries)", len(seen))
	}
	if gap := seen[1].Sub(seen[0]); gap < 900*time.Millisecond {
		t.Errorf("got the next request %s after a 429 with Retry-After: 1, want at least 1s", gap)
	}
	if !strings.Contains(w.logs.String(), "receiver asked to wait") {
		t.Errorf("got no log of the Retry-After block:\n%s", w.logs)
	}
}
