package delivery

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// TestReleaseParkedKeepsClaimsACancelledReleaseMissed checks that a release of parked claims
// that fails because the worker is stopping parks them again, so that the release at
// shutdown, with its own deadline, still returns them to the queue.
func TestReleaseParkedKeepsClaimsACancelledReleaseMissed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "w", URI: "https://receiver.example/", Secret: "s", Enabled: true}); err != nil {
		t.Fatalf("WebhookCreate: %v", err)
	}
	if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`), UserID: "u"}); err != nil {
		t.Fatalf("EventPublish: %v", err)
	}
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1, Lease: time.Minute})
	if err != nil || len(cs) != 1 {
		t.Fatalf("DeliveryClaim: %d claims, %v; want 1", len(cs), err)
	}
	w := NewWorker(s, NewSender(NewGuard(nil, nil), SenderConfig{Timeout: time.Second}), nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Concurrency: 2})
	d := &dispatcher{w: w, slots: make(chan struct{}, 4), results: make(chan done, 4), queues: map[int64][]waiting{}, parking: newParking()}
	now := time.Now()
	d.parking.add(cs[0], now, time.Minute, time.Second)

	stopping, stop := context.WithCancel(ctx)
	stop()
	d.releaseParked(stopping, now, false)
	d.releaseParked(ctx, now, true)

	got, err := s.DeliveryGet(ctx, cs[0].Delivery.ID)
	if err != nil {
		t.Fatalf("DeliveryGet: %v", err)
	}
	if got.State != hookd.DeliveryStatePending {
		t.Errorf("got the delivery %s after the release at shutdown, want pending", got.State)
	}
}
