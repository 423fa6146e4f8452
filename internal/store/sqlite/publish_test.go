package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// waitFor polls cond until it holds, failing the test after a few seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPublishQueuedCallGivesUp checks the group commit's queue: a call waiting behind a
// running group that gives up leaves the queue with its context's error and writes nothing,
// and the running group still completes.
func TestPublishQueuedCallGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, "hookd.db", nil)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "a", URI: "https://a.example/", Enabled: true}); err != nil {
		t.Fatalf("WebhookCreate: %v", err)
	}
	// Holding the writer's one connection stalls the leader inside its group.
	conn, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{"id":1}`)}
	leader := make(chan error, 1)
	go func() {
		_, _, err := s.EventPublish(ctx, p)
		leader <- err
	}()
	state := func(leading bool, queued int) func() bool {
		return func() bool {
			running, q := s.pub.Pending()
			return (running > 0) == leading && q == queued
		}
	}
	waitFor(t, "the leader", state(true, 0))
	cctx, cancel := context.WithCancel(ctx)
	waiter := make(chan error, 1)
	go func() {
		_, _, err := s.EventPublish(cctx, p)
		waiter <- err
	}()
	waitFor(t, "the queued call", state(true, 1))
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued call: got %v, want context.Canceled", err)
	}
	if !state(true, 0)() {
		t.Fatalf("got the cancelled call still queued, want it gone")
	}
	conn.Close()
	if err := <-leader; err != nil {
		t.Fatalf("leader: got %v, want its event published", err)
	}
	waitFor(t, "the lead to end", state(false, 0))
	if _, total, err := s.DeliveryList(ctx, hookd.DeliveryFilter{}); err != nil || total != 1 {
		t.Fatalf("got %d deliveries (%v), want 1: the cancelled event must not be written", total, err)
	}
}
