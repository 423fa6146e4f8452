package delivery_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// TestWorkerHonoursRetryAfter: a receiver answering 429 with Retry-After is not retried before
// the time it asked for, even when the schedule's next step is sooner.
func TestWorkerHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var hits atomic.Int64
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	})
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1)
	startWorker(t, store, delivery.Config{Schedule: []time.Duration{10 * time.Millisecond}}, delivery.SenderConfig{})

	d := waitState(t, store, hookd.DeliveryStateDelivered, ds...)[0]
	as := attempts(t, store, d.ID)
	if len(as) != 2 || as[0].Status != 429 || as[1].Status != 200 {
		t.Fatalf("got attempts %+v, want a 429 then a 200", as)
	}
	if gap := as[1].StartedAt.Sub(as[0].StartedAt); gap < 900*time.Millisecond {
		t.Errorf("retried %s after a 429 with Retry-After: 1, want at least 1s (the schedule said 10ms)", gap)
	}
}
