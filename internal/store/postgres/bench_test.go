package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// benchStore opens a store with n webhooks taking every event.
func benchStore(b *testing.B, n int) (hookd.Store, context.Context) {
	b.Helper()
	s := pgtest.OpenTest(b, nil)
	for range n {
		mustWebhook(b, s, "w")
	}
	return s, context.Background()
}

// BenchmarkClaimAndRecord measures the hot path of delivery: claim a batch of due deliveries
// and record their attempts in one AttemptRecord call. 24 is about what the worker claims and
// records at a time when it drains a backlog; 256 is its largest record.
func BenchmarkClaimAndRecord(b *testing.B) {
	for _, batch := range []int{24, 256} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) { benchClaimAndRecord(b, batch) })
	}
}

func benchClaimAndRecord(b *testing.B, batch int) {
	s, ctx := benchStore(b, 8)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for range batch / 8 {
			mustPublish(b, s, `{"id":1}`)
		}
		b.StartTimer()
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: batch, Lease: time.Minute})
		if err != nil || len(cs) != batch {
			b.Fatalf("got %d claims, %v, want %d", len(cs), err, batch)
		}
		rs := make([]*hookd.AttemptResult, len(cs))
		for i, c := range cs {
			rs[i] = &hookd.AttemptResult{
				Attempt: hookd.Attempt{
					DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Duration: time.Millisecond,
					RequestHeaders: map[string][]string{"Accept": {"*/*"}}, RequestBody: []byte(`{"event":{}}`),
					Status: 200, ResponseBody: []byte("ok"),
				},
				ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
			}
		}
		if err := s.AttemptRecord(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1e3, "µs/delivery")
}

// BenchmarkPublishParallel measures EventPublish under concurrent publishers, as the API
// sees it with many clients: 32 goroutines, each event fanned out to 4 webhooks.
func BenchmarkPublishParallel(b *testing.B) {
	s, ctx := benchStore(b, 4)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.EventPublish(ctx, &hookd.EventPublishParams{
				Trigger: 1 << 7, Payload: []byte(`{"id":1}`), UserID: "u1",
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPublishBatch measures EventPublishBatch with 100 events, each fanned out to 4
// webhooks; the figure per event is comparable with BenchmarkPublishParallel's per call.
func BenchmarkPublishBatch(b *testing.B) {
	s, ctx := benchStore(b, 4)
	const batch = 100
	ps := make([]*hookd.EventPublishParams, batch)
	for i := range ps {
		ps[i] = &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{"id":1}`), UserID: "u1"}
	}
	for b.Loop() {
		if _, err := s.EventPublishBatch(ctx, ps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1e3, "µs/event")
}
