package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a hookd.Clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustWebhook creates an enabled webhook subscribed to every event.
func mustWebhook(t testing.TB, s hookd.Store, name string) *hookd.Webhook {
	t.Helper()
	w, err := s.WebhookCreate(context.Background(), &hookd.Webhook{
		Name: name, URI: "https://example.com/" + name, Secret: "s3cret-value", Enabled: true, CreatedBy: "u1",
	})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

// mustPublish publishes a file.created event and returns its deliveries.
func mustPublish(t testing.TB, s hookd.Store, payload string) []*hookd.Delivery {
	t.Helper()
	_, ds, err := s.EventPublish(context.Background(), &hookd.EventPublishParams{
		Trigger: 1 << 7, Payload: []byte(payload), UserID: "u1",
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ds
}
