package sqlite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// TestReplayStepCountsAgainAfterAStalePeek checks that a step does not trust a count of
// outstanding deliveries taken before another step of the same job created some: with a
// window of one, the second step must find the window full.
func TestReplayStepCountsAgainAfterAStalePeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := hookd.ClockFunc(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := openTest(t, "step.db", clock)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "w", URI: "https://receiver.example/", Secret: "s", Enabled: true}); err != nil {
		t.Fatalf("WebhookCreate: %v", err)
	}
	for range 3 {
		if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`), UserID: "u"}); err != nil {
			t.Fatalf("EventPublish: %v", err)
		}
	}
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 10, Lease: time.Minute})
	if err != nil || len(cs) != 3 {
		t.Fatalf("DeliveryClaim: %d claims, %v; want 3", len(cs), err)
	}
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{Attempt: hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: clock.Now(),
			Status: 500, RequestBody: []byte(`{}`), ResponseBody: []byte(`no`)}, ClaimToken: c.Token, Outcome: hookd.OutcomeFailed})
	}
	if err := s.AttemptRecord(ctx, rs); err != nil {
		t.Fatalf("AttemptRecord: %v", err)
	}
	r, _, err := s.ReplayCreate(ctx, &hookd.ReplayParams{Rate: 1000, Window: 1, CreatedBy: "u"})
	if err != nil || r.Total != 3 {
		t.Fatalf("ReplayCreate: %+v, %v; want a job of 3", r, err)
	}

	stale, err := s.replayPeek(ctx, clock.Now())
	if err != nil || stale == nil || stale.outstanding != 0 {
		t.Fatalf("replayPeek: %+v, %v; want the job with none outstanding", stale, err)
	}
	if res, err := s.ReplayStep(ctx, &hookd.ReplayStepParams{}); err != nil || len(res.Items) != 1 {
		t.Fatalf("first step: %v; want 1 item (the window)", err)
	}
	advance(time.Second)
	res, err := s.replayStep(ctx, defaultReplayStepLimit, clock.Now(), stale)
	if err != nil {
		t.Fatalf("step after a stale peek: %v", err)
	}
	if len(res.Items) != 0 {
		t.Errorf("step after a stale peek: got %d items, want none (the window of 1 is full)", len(res.Items))
	}
	fresh, err := s.replayPeek(ctx, clock.Now().Add(time.Minute))
	if err != nil || fresh == nil || fresh.outstanding != 1 {
		t.Errorf("replayPeek after the step: %+v, %v; want 1 outstanding", fresh, err)
	}
}
