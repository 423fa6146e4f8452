package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/servertest"
)

// TestCrashRestart publishes events, kill -9s the server while deliveries are in flight,
// restarts it on the same database, and checks every published event reaches the receiver and
// no delivery is left in flight.
func TestCrashRestart(t *testing.T) {
	forEachBackend(t, testCrashRestart)
}

func testCrashRestart(t *testing.T, db string) {
	const events = 300
	var mu sync.Mutex
	seen := map[int64]int{} // event.id → times received
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond) // slow enough that the kill lands mid-run, with attempts in flight
	})
	countSeen := func() int {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range rc.Hits() {
			var b struct {
				Event struct{ ID int64 } `json:"event"`
			}
			if json.Unmarshal(h.Body, &b) == nil {
				seen[b.Event.ID]++
			}
		}
		n := len(seen)
		clear(seen)
		return n
	}

	key := hookd.NewKeySecret()
	env := map[string]string{
		"HOOKD_DB":               db,
		"HOOKD_ADMIN_KEY":        key,
		"HOOKD_ALLOWED_NETWORKS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":   "100ms,200ms,400ms,800ms,1s,1s",
		"HOOKD_ATTEMPT_TIMEOUT":  "1s",
		"HOOKD_LEASE":            "2s",
		"HOOKD_CONCURRENCY":      "4",
		"HOOKD_LOG_LEVEL":        "warn",
	}
	n1 := startNode(t, env)
	api := &apiClient{t: t, url: n1.URL, key: key}
	var wh webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "crash", "uri": rc.URL, "secretKey": "crash-secret", "enabled": true}, &wh)

	ids := make([]int64, 0, events)
	for i := range events {
		var res struct {
			Deliveries []struct{ ID int64 } `json:"deliveries"`
		}
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}}, &res)
		ids = append(ids, res.Deliveries[0].ID)
	}
	servertest.Eventually(t, 20*time.Second, "some deliveries before the crash", func() bool { return len(rc.Hits()) >= 30 })
	n1.Kill9(t)
	before := countSeen()
	if before >= events {
		t.Fatalf("all %d events were delivered before the kill: the test did not crash the server mid-run", events)
	}

	n2 := startNode(t, env)
	api.url = n2.URL
	servertest.Eventually(t, 60*time.Second, fmt.Sprintf("all %d events reach the receiver after the restart", events), func() bool {
		return countSeen() == events
	})
	// The log agrees: every delivery delivered, none in flight.
	servertest.Eventually(t, 10*time.Second, "every delivery recorded as delivered", func() bool {
		var rows []logDTO
		env := api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx&count=1", wh.ID), nil, &rows)
		return env.Total != nil && *env.Total == events
	})
	mu.Lock()
	for _, h := range rc.Hits() {
		var b struct {
			Event struct{ ID int64 } `json:"event"`
		}
		json.Unmarshal(h.Body, &b)
		seen[b.Event.ID]++
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("delivery %d never reached the receiver", id)
		}
	}
	mu.Unlock()
	t.Logf("receiver hits: %d for %d events (%d before the kill)", len(rc.Hits()), events, before)
}
