package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/servertest"
)

// TestMetricsCountReplayDeliveries: the deliveries a replay job creates are counted in
// hookd_deliveries_created_total{origin="replay"}, as many as the job's new rows in the log.
func TestMetricsCountReplayDeliveries(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 4*3 { // every attempt of the first 3 deliveries fails (first try + 3 retries)
			http.Error(w, "down", http.StatusBadGateway)
		}
	})
	var wh webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "m", "uri": rc.URL, "secretKey": "metrics-secret", "enabled": true}, &wh)
	for i := range 3 {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}}, nil)
	}
	servertest.Eventually(t, 15*time.Second, "3 failed deliveries", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Failed", wh.ID), nil, &rows)
		n := 0
		for _, r := range rows {
			if r.State == "failed" {
				n++
			}
		}
		return n == 3
	})
	api.ok(202, "POST", "/api/2.0/webhooks/replays", map[string]any{"configId": wh.ID, "groupStatus": "Failed", "rate": 100}, nil)
	servertest.Eventually(t, 15*time.Second, "3 replayed deliveries delivered", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx", wh.ID), nil, &rows)
		return len(rows) == 3
	})
	m := scrape(t, env.URL)
	if got := m[`hookd_deliveries_created_total{origin="replay"}`]; got != 3 {
		t.Errorf(`hookd_deliveries_created_total{origin="replay"}: got %v, want 3`, got)
	}
	if got := m[`hookd_deliveries_created_total{origin="publish"}`]; got != 3 {
		t.Errorf(`hookd_deliveries_created_total{origin="publish"}: got %v, want 3`, got)
	}
}
