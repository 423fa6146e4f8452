package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// TestClaimEveryStatement goes through the texts of the claim (a bound written into the
// statement above the limit or equal to it, a limit past those, webhooks to skip): each takes
// exactly its limit, or all that is left, oldest first, never one another took.
func TestClaimEveryStatement(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	a := mustWebhook(t, s, "a")
	b := mustWebhook(t, s, "b")
	ps := make([]*hookd.EventPublishParams, 150)
	for i := range ps {
		ps[i] = &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`), UserID: "u1"}
	}
	if _, err := s.EventPublishBatch(ctx, ps); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	claimed := map[int64]bool{}
	for _, c := range []struct {
		name  string
		limit int
		skip  []int64
		want  int
	}{
		{"BoundAbove", 7, nil, 7},
		{"BoundEqual", 8, nil, 8},
		{"BoundOne", 1, nil, 1},
		{"SkipWebhooks", 200, []int64{b.ID}, 142}, // the rest of a's, none of b's
		{"PastLargestBound", 200, nil, 142},       // the rest of b's
	} {
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: c.limit, Lease: time.Minute, SkipWebhooks: c.skip})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(cs) != c.want {
			t.Fatalf("%s: got %d claims, want %d", c.name, len(cs), c.want)
		}
		for i, cl := range cs {
			if c.skip != nil && cl.Delivery.WebhookID != a.ID {
				t.Errorf("%s: got a delivery of webhook %d, want only %d's", c.name, cl.Delivery.WebhookID, a.ID)
			}
			if i > 0 && cl.Delivery.ID <= cs[i-1].Delivery.ID {
				t.Errorf("%s: got delivery %d after %d, want oldest first", c.name, cl.Delivery.ID, cs[i-1].Delivery.ID)
			}
			if claimed[cl.Delivery.ID] {
				t.Errorf("%s: got delivery %d claimed again", c.name, cl.Delivery.ID)
			}
			claimed[cl.Delivery.ID] = true
		}
	}
	if cs := claimAll(t, s); len(cs) != 0 {
		t.Errorf("got %d more claims, want none left", len(cs))
	}
}
