package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// orderedWebhook creates an enabled ordered webhook subscribed to every event.
func orderedWebhook(t testing.TB, s hookd.Store, name string) *hookd.Webhook {
	t.Helper()
	w, err := s.WebhookCreate(context.Background(), &hookd.Webhook{
		Name: name, URI: "https://example.com/" + name, Secret: "s3cret-value", Enabled: true, Ordered: true,
	})
	if err != nil || !w.Ordered {
		t.Fatalf("create ordered webhook: %v (ordered %v)", err, w != nil && w.Ordered)
	}
	return w
}

// publishKeys publishes one event per key, in order, in one batch, and returns the deliveries
// of each event.
func publishKeys(t testing.TB, s hookd.Store, keys ...string) [][]*hookd.Delivery {
	t.Helper()
	var ps []*hookd.EventPublishParams
	for i, k := range keys {
		ps = append(ps, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: fmt.Appendf(nil, `{"n":%d}`, i), OrderingKey: k})
	}
	pubs, err := s.EventPublishBatch(context.Background(), ps)
	if err != nil {
		t.Fatalf("EventPublishBatch: %v", err)
	}
	var out [][]*hookd.Delivery
	for _, p := range pubs {
		out = append(out, p.Deliveries)
	}
	return out
}

// claimedIDs returns the delivery ids of claims, sorted.
func claimedIDs(cs []*hookd.Claim) []int64 {
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.Delivery.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestOrderedKeyGoesOneAtATime(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	ord := orderedWebhook(t, s, "ordered")
	mustWebhook(t, s, "free") // unordered: gets no keys, never blocked
	ds := publishKeys(t, s, "a", "a", "b", "a", "")
	for i, d := range ds {
		if len(d) != 2 || d[0].WebhookID != ord.ID {
			t.Fatalf("event %d: got %d deliveries, want 2, the ordered webhook's first", i, len(d))
		}
		if want := []string{"a", "a", "b", "a", ""}[i]; d[0].OrderingKey != want || d[1].OrderingKey != "" {
			t.Errorf("event %d: got keys %q, %q, want %q and none for the unordered webhook", i, d[0].OrderingKey, d[1].OrderingKey, want)
		}
	}
	got := claimAll(t, s)
	want := []int64{ds[0][0].ID, ds[2][0].ID, ds[4][0].ID} // heads of a and b, and the unkeyed one
	for _, d := range ds {
		want = append(want, d[1].ID)
	}
	slices.Sort(want)
	if !slices.Equal(claimedIDs(got), want) {
		t.Fatalf("got claims %v, want %v", claimedIDs(got), want)
	}
	i := slices.IndexFunc(got, func(c *hookd.Claim) bool { return c.Delivery.ID == ds[0][0].ID })
	head := got[i]
	deliver(t, s, slices.Delete(got, i, i+1)...)

	// A failing head holds its key back, and the dispatcher is not told to look before it
	// comes due again.
	retryAt := clk.Now().Add(time.Hour)
	fail(t, s, retryAt, head)
	if cs := claimAll(t, s); len(cs) != 0 {
		t.Errorf("got claims %v behind a retrying head, want none", claimedIDs(cs))
	}
	next, err := s.DeliveryNextDue(ctx)
	if err != nil || !next.Equal(retryAt.Truncate(time.Microsecond)) {
		t.Errorf("got next due %v, %v, want the head's retry at %v", next, err, retryAt)
	}

	// Its final failure unblocks the key; a manual retry of it goes to the back of the key.
	clk.Add(time.Hour)
	if cs := claimAll(t, s); len(cs) != 1 || cs[0].Delivery.ID != ds[0][0].ID {
		t.Fatalf("got claims %v, want the head %d alone", claimedIDs(cs), ds[0][0].ID)
	} else {
		head = cs[0]
	}
	if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{{
		Attempt:    hookd.Attempt{DeliveryID: head.Delivery.ID, StartedAt: clk.Now(), Status: 500},
		ClaimToken: head.Token, Outcome: hookd.OutcomeFailed,
	}}); err != nil {
		t.Fatal(err)
	}
	again, err := s.DeliveryRetry(ctx, &hookd.DeliveryRetryParams{IDs: []int64{head.Delivery.ID}, CreatedBy: "u1"})
	if err != nil || len(again) != 1 || again[0].OrderingKey != "a" {
		t.Fatalf("got retry %v, %v, want one delivery keyed a", again, err)
	}
	var order []int64
	for {
		cs := claimAll(t, s)
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			if c.Delivery.OrderingKey == "a" {
				order = append(order, c.Delivery.ID)
			}
		}
		deliver(t, s, cs...)
	}
	if want := []int64{ds[1][0].ID, ds[3][0].ID, again[0].ID}; !slices.Equal(order, want) {
		t.Errorf("got key a in order %v, want %v", order, want)
	}
}

// deliver records a 200 for each claim.
func deliver(t testing.TB, s hookd.Store, cs ...*hookd.Claim) {
	t.Helper()
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: 200},
			ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
		})
	}
	if err := s.AttemptRecord(context.Background(), rs); err != nil {
		t.Fatalf("AttemptRecord: %v", err)
	}
}

// TestOrderedClaimsFromTwoNodes has six claimers on two nodes take the deliveries of ordered
// webhooks: a key never has two deliveries in flight, and each key goes in publish order.
func TestOrderedClaimsFromTwoNodes(t *testing.T) {
	t.Parallel()
	url := pgtest.TestURL(t)
	nodes := []*postgres.Store{openOn(t, url), openOn(t, url)}
	ctx := context.Background()
	orderedWebhook(t, nodes[0], "x")
	orderedWebhook(t, nodes[0], "y")
	var keys []string
	for i := range 240 {
		keys = append(keys, fmt.Sprintf("k%d", i%6))
	}
	published := publishKeys(t, nodes[1], keys...)
	type key struct {
		webhook int64
		key     string
	}
	want := map[key][]int64{}
	total := 0
	for _, ds := range published {
		for _, d := range ds {
			k := key{d.WebhookID, d.OrderingKey}
			want[k] = append(want[k], d.ID)
			total++
		}
	}

	var (
		mu       sync.Mutex
		inflight = map[key]int64{}
		order    = map[key][]int64{}
		done     atomic.Int64
		wg       sync.WaitGroup
	)
	for i := range 6 {
		s := nodes[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < int64(total) && !t.Failed() {
				cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 4, Lease: time.Hour})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				mu.Lock()
				for _, c := range cs {
					k := key{c.Delivery.WebhookID, c.Delivery.OrderingKey}
					if other, ok := inflight[k]; ok {
						t.Errorf("claimed %d while %d of the same key is in flight", c.Delivery.ID, other)
					}
					inflight[k] = c.Delivery.ID
					order[k] = append(order[k], c.Delivery.ID)
				}
				mu.Unlock()
				runtime.Gosched() // "sending": let the other claimers run
				// Out of the in-flight set before the record commits: the next of the key can
				// only be claimed after that.
				mu.Lock()
				for _, c := range cs {
					delete(inflight, key{c.Delivery.WebhookID, c.Delivery.OrderingKey})
				}
				mu.Unlock()
				if len(cs) > 0 {
					deliver(t, s, cs...)
					done.Add(int64(len(cs)))
				}
			}
		}()
	}
	wg.Wait()
	for k, ids := range want {
		if !slices.Equal(order[k], ids) {
			t.Errorf("webhook %d key %s: got order %v, want %v", k.webhook, k.key, order[k], ids)
		}
	}
}
