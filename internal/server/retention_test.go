package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
	"github.com/hookd/hookd/internal/store/storetest"
)

// TestRetentionWhileDelivering runs a server on a clock the test moves: deliveries made before
// the retention age are pruned by the janitor, exactly those, while new events published at
// the same moment are delivered.
func TestRetentionWhileDelivering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(rc.Close)

	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	env := servertest.Start(t, func(c *server.Config) {
		c.Clock = clock
		c.Retention = 24 * time.Hour
		c.DisableAfter = -1
		c.JanitorInterval = 20 * time.Millisecond
		c.PruneBatch = 7 // several batches for the old deliveries
	})
	cl, err := client.New(env.URL, env.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateWebhook(ctx, client.WebhookParams{Name: "r", URI: rc.URL, SecretKey: "retention-secret", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) []int64 {
		t.Helper()
		var ids []int64
		for i := range n {
			res, err := cl.Publish(ctx, client.PublishParams{Trigger: client.Trigger(1 << 7), Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Deliveries[0].ID)
		}
		return ids
	}
	delivered := func(want int) func() bool {
		return func() bool {
			page, err := cl.Deliveries(ctx, client.DeliveryFilter{GroupStatus: client.GroupStatus2xx, Count: 100})
			return err == nil && page.Total == int64(want)
		}
	}

	old := publish(30)
	servertest.Eventually(t, 20*time.Second, "the old events are delivered", delivered(30))

	// A day and a bit later, new events arrive while the janitor prunes the old ones.
	clock.Advance(25 * time.Hour)
	young := publish(20)
	servertest.Eventually(t, 20*time.Second, "only the new events are left, all delivered", func() bool {
		page, err := cl.Deliveries(ctx, client.DeliveryFilter{Count: 100})
		return err == nil && page.Total == 20 && delivered(20)()
	})
	page, err := cl.Deliveries(ctx, client.DeliveryFilter{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	left := map[int64]bool{}
	for _, d := range page.Deliveries {
		left[d.ID] = true
	}
	for _, id := range young {
		if !left[id] {
			t.Errorf("young delivery %d was pruned", id)
		}
	}
	for _, id := range old {
		if left[id] {
			t.Errorf("old delivery %d was kept", id)
		}
	}
	if got := hits.Load(); got != 50 {
		t.Errorf("receiver got %d requests, want 50", got)
	}
	if pruned := metricValue(t, env.Server, "hookd_deliveries_pruned_total"); pruned != 30 {
		t.Errorf("hookd_deliveries_pruned_total: got %v, want 30", pruned)
	}
}

// metricValue returns the sum of every series of a metric family on the server's registry.
func metricValue(t testing.TB, srv *server.Server, name string) float64 {
	t.Helper()
	mfs, err := srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}
