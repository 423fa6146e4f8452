package sqlite

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// benchStore returns a migrated store with n enabled webhooks subscribed to every event.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	ctx := context.Background()
	s := openTest(b, "bench.db", nil)
	if err := s.Migrate(ctx); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	for i := range n {
		if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: fmt.Sprint("hook ", i),
			URI: fmt.Sprintf("https://receiver.example/%d", i), Secret: "bench-secret", Enabled: true}); err != nil {
			b.Fatalf("WebhookCreate: %v", err)
		}
	}
	return s
}

var benchPayload = []byte(`{"id":4711,"title":"Quarterly report.docx","folderId":7,"rootId":3,"version":2,` +
	`"createdBy":{"id":"0b8c9a4e-1234-4cde-8f00-aabbccddeeff","displayName":"Jane Doe"}}`)

// BenchmarkPublish measures EventPublish of one event fanned out to 10 webhooks.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 10)
	p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: benchPayload, UserID: "u"}
	b.ReportAllocs()
	for b.Loop() {
		if _, ds, err := s.EventPublish(ctx, p); err != nil || len(ds) != 10 {
			b.Fatalf("EventPublish: %d deliveries, %v", len(ds), err)
		}
	}
}

// BenchmarkPublishParallel measures EventPublish of one event fanned out to 10 webhooks by 32
// concurrent publishers (the API under load): one op is one event.
func BenchmarkPublishParallel(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 10)
	p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: benchPayload, UserID: "u"}
	b.ReportAllocs()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ds, err := s.EventPublish(ctx, p); err != nil || len(ds) != 10 {
				b.Errorf("EventPublish: %d deliveries, %v", len(ds), err)
				return
			}
		}
	})
}

// BenchmarkPublishBatch measures EventPublishBatch of 100 events, each fanned out to 10
// webhooks: one op is one event.
func BenchmarkPublishBatch(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 10)
	ps := make([]*hookd.EventPublishParams, 100)
	for i := range ps {
		ps[i] = &hookd.EventPublishParams{Trigger: 1 << 7, Payload: benchPayload, UserID: "u"}
	}
	b.ReportAllocs()
	for done := 0; done < b.N; done += len(ps) {
		if out, err := s.EventPublishBatch(ctx, ps); err != nil || len(out) != len(ps) {
			b.Fatalf("EventPublishBatch: %d events, %v", len(out), err)
		}
	}
}

// BenchmarkClaimRecord measures the dispatcher's store work per delivery: claims of 100, 256
// and 512 deliveries, each batch recorded delivered in one AttemptRecord. One op is one
// delivery.
func BenchmarkClaimRecord(b *testing.B) {
	for _, batch := range []int{8, 100, 256, 512} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) { benchClaimRecord(b, batch) })
	}
}

func benchClaimRecord(b *testing.B, batch int) {
	ctx := context.Background()
	s := benchStore(b, 1)
	p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: benchPayload, UserID: "u"}
	for range b.N {
		if _, _, err := s.EventPublish(ctx, p); err != nil {
			b.Fatalf("EventPublish: %v", err)
		}
	}
	headers := map[string][]string{"Accept": {"*/*"}, hookd.SignatureHeader: {"sha256=0123456789ABCDEF"}}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: batch, Lease: time.Minute})
		if err != nil || len(cs) == 0 {
			b.Fatalf("DeliveryClaim: %d claims after %d of %d, %v", len(cs), done, b.N, err)
		}
		rs := make([]*hookd.AttemptResult, len(cs))
		for i, c := range cs {
			rs[i] = &hookd.AttemptResult{
				Attempt: hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Duration: 20 * time.Millisecond,
					RequestHeaders: headers, RequestBody: benchPayload, Status: 200, ResponseBody: []byte("ok")},
				ClaimToken: c.Token,
				Outcome:    hookd.OutcomeDelivered,
			}
		}
		if err := s.AttemptRecord(ctx, rs); err != nil {
			b.Fatalf("AttemptRecord: %v", err)
		}
		done += len(cs)
	}
}

// BenchmarkClaimVaryingLimit claims with a limit that changes from one claim to the next, as
// the dispatcher's free slots do, recording each claim: one op is one claim of 1 or 2
// deliveries and its record. A claim statement that SQLite recompiles on each new limit shows
// here as about twice the time of BenchmarkClaimRecord/batch=8 per op.
func BenchmarkClaimVaryingLimit(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 1)
	p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: benchPayload, UserID: "u"}
	for range 2 * b.N {
		if _, _, err := s.EventPublish(ctx, p); err != nil {
			b.Fatalf("EventPublish: %v", err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1 + i%2, Lease: time.Minute})
		if err != nil || len(cs) == 0 {
			b.Fatalf("DeliveryClaim: %d claims, %v", len(cs), err)
		}
		rs := make([]*hookd.AttemptResult, len(cs))
		for j, c := range cs {
			rs[j] = &hookd.AttemptResult{Attempt: hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: 200},
				ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered}
		}
		if err := s.AttemptRecord(ctx, rs); err != nil {
			b.Fatalf("AttemptRecord: %v", err)
		}
	}
}
