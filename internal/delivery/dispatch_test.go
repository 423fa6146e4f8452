package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// stuckClaims lets the first claim through and holds every later one until unstuck is
// closed, as a store whose single writer is busy with something else.
type stuckClaims struct {
	delivery.Store
	calls   atomic.Int64
	started chan struct{} // closed when a second claim has begun
	once    sync.Once
	unstuck chan struct{}
}

func (s *stuckClaims) DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error) {
	if s.calls.Add(1) > 1 {
		s.once.Do(func() { close(s.started) })
		select {
		case <-s.unstuck:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.DeliveryClaim(ctx, p)
}

// TestWorkerStartsWaitingClaimsDuringAClaim: claims waiting for their webhook's room start as
// soon as attempts end, also while a claim is held up in the store.
func TestWorkerStartsWaitingClaimsDuringAClaim(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	answer := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		<-answer
	}))
	t.Cleanup(srv.Close)
	var answerOnce sync.Once
	answerAll := func() { answerOnce.Do(func() { close(answer) }) }
	defer answerAll() // before the worker stops (a cleanup): its attempts must end

	store := newTestStore(t)
	createWebhook(t, store, srv.URL)
	publish(t, store, 5)
	stuck := &stuckClaims{Store: store, started: make(chan struct{}), unstuck: make(chan struct{})}
	var unstuckOnce sync.Once
	unstick := func() { unstuckOnce.Do(func() { close(stuck.unstuck) }) }
	defer unstick()
	// Five slots, two in flight: the first claim takes all five, two go out, two wait and the
	// fifth is released, which frees a slot and starts the second claim, held up.
	startWorker(t, stuck, delivery.Config{Concurrency: 5, PerWebhookInflight: 2, InitialInflight: 2,
		Health: delivery.HealthPolicy{Off: true}}, delivery.SenderConfig{})
	select {
	case <-stuck.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("no second claim within 10 s; the receiver got %d requests", got.Load())
	}
	waitCount(&got, 2)
	time.Sleep(50 * time.Millisecond) // a third request would come now
	if n := got.Load(); n != 2 {
		t.Fatalf("got %d requests before the first answers, want 2 (the webhook's limit)", n)
	}
	answerAll()
	waitCount(&got, 4)
	if n := got.Load(); n != 4 {
		t.Fatalf("got %d requests while the second claim was held up, want 4: the two waiting claims start when the first two end", n)
	}
	unstick()
	waitCount(&got, 5)
	if n := got.Load(); n != 5 {
		t.Errorf("got %d requests once claims went through again, want all 5", n)
	}
}

// waitCount waits up to 10 s for n to reach want.
func waitCount(n *atomic.Int64, want int64) {
	for deadline := time.Now().Add(10 * time.Second); n.Load() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
