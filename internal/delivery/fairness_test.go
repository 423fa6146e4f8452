package delivery_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/delivery"
)

// TestWorkerSlowBacklogDoesNotHoldHealthyReceivers: a slow receiver's backlog is due before a
// healthy receiver's deliveries, yet the healthy ones go out at once: claims pass over the
// slow webhook once a round of its limit waits, instead of filling every slot with claims
// that can only wait.
func TestWorkerSlowBacklogDoesNotHoldHealthyReceivers(t *testing.T) {
	t.Parallel()
	var slowGot, fastGot atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(100 * time.Millisecond)
		slowGot.Add(1)
	}))
	t.Cleanup(slow.Close)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fastGot.Add(1)
	}))
	t.Cleanup(fast.Close)

	store := newTestStore(t)
	createWebhook(t, store, slow.URL)
	publish(t, store, 300) // the slow receiver's backlog: the oldest due
	createWebhook(t, store, fast.URL)
	publish(t, store, 50) // 50 more for each receiver
	startWorker(t, store, delivery.Config{
		Concurrency: 32, PerWebhookInflight: 4, InitialInflight: 4,
		Health: delivery.HealthPolicy{Off: true},
	}, delivery.SenderConfig{})

	deadline := time.Now().Add(60 * time.Second)
	for fastGot.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// At 4 in flight and 100 ms each the slow receiver takes 40 a second: had the healthy
	// deliveries waited behind its backlog, it would have answered about 300 by now.
	t.Logf("when the healthy receiver had all 50, the slow one had answered %d of 350", slowGot.Load())
	if fastGot.Load() < 50 {
		t.Fatalf("the healthy receiver got %d of 50 in 60 s", fastGot.Load())
	}
	if got := slowGot.Load(); got > 150 {
		t.Errorf("the slow receiver had answered %d deliveries before the healthy one got its 50, want the healthy ones not to wait for its backlog (< 150)", got)
	}
}
