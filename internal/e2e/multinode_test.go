package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/servertest"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// TestMultiNodeKill runs three hookd nodes on one PostgreSQL, publishes 10,000 events through
// all three, kill -9s one of them mid-delivery, and checks that every event reached the
// receiver, that the only duplicates are attempts the dead node made and did not record, and that the log
// agrees with what the receiver saw.
func TestMultiNodeKill(t *testing.T) {
	t.Parallel()
	const (
		events      = 10000
		concurrency = 8 // per node: the most attempts the killed node can have in flight
	)
	db := pgtest.TestURL(t)

	var mu sync.Mutex
	hits := map[int64]int{} // delivery id (event.id in the body) → requests received
	var total atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b struct {
			Event struct{ ID int64 } `json:"event"`
		}
		if json.Unmarshal(body, &b) == nil {
			mu.Lock()
			hits[b.Event.ID]++
			mu.Unlock()
			total.Add(1)
		}
		time.Sleep(20 * time.Millisecond) // slow enough that delivery outlasts publishing
	}))
	t.Cleanup(rc.Close)

	key := hookd.NewKeySecret()
	env := map[string]string{
		"HOOKD_DB":               db,
		"HOOKD_ADMIN_KEY":        key,
		"HOOKD_ALLOWED_NETWORKS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":   "100ms,200ms,400ms",
		"HOOKD_ATTEMPT_TIMEOUT":  "1s",
		"HOOKD_LEASE":            "2s",
		"HOOKD_CONCURRENCY":      fmt.Sprint(concurrency),
		"HOOKD_LOG_LEVEL":        "warn",
	}
	nodes := []*node{startNode(t, env), startNode(t, env), startNode(t, env)}
	api0 := &apiClient{t: t, url: nodes[0].URL, key: key}
	var wh webhookDTO
	api0.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "multi", "uri": rc.URL, "secretKey": "multi-secret", "enabled": true}, &wh)

	// Publish through all three nodes, 8 publishers at a time. Node 2 is killed once the
	// receiver has 2,000 requests, whether publishing is still going on or not; a load balancer
	// first takes it out of the publish rotation (publishes in flight to it finish), so that no
	// publish answer is lost with it and every published event is known.
	ids := make([]int64, events)
	var (
		node2    sync.RWMutex // publishers to node 2 hold it for reading; the kill takes it
		node2Off bool
		atKill   int64
	)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for total.Load() < 2000 {
			time.Sleep(5 * time.Millisecond)
		}
		node2.Lock()
		node2Off = true
		atKill = total.Load()
		nodes[1].cmd.Process.Kill()
		node2.Unlock()
	}()
	publish := func(i int) int64 {
		n := i % 3
		if n == 1 {
			node2.RLock()
			defer node2.RUnlock()
			if node2Off {
				n = 0
			}
		}
		api := &apiClient{t: t, url: nodes[n].URL, key: key}
		var res struct {
			Deliveries []struct{ ID int64 } `json:"deliveries"`
		}
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"seq": i}}, &res)
		return res.Deliveries[0].ID
	}
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < events; i += 8 {
				ids[i] = publish(i)
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("the receiver never reached 2,000 requests")
	}
	<-nodes[1].done
	if atKill >= events {
		t.Fatalf("every event was delivered before the kill (%d requests): the kill did not land mid-run", atKill)
	}
	t.Logf("killed node 2 after %d receiver requests", atKill)

	servertest.Eventually(t, 90*time.Second, "every event reaches the receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hits) >= events
	})
	// The log: every delivery delivered, and its recorded attempts match the receiver's count
	// except for attempts the dead node made but could not record.
	api := &apiClient{t: t, url: nodes[2].URL, key: key}
	rows := map[int64]logDTO{}
	servertest.Eventually(t, 30*time.Second, "every delivery recorded as delivered", func() bool {
		var page []logDTO
		env := api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx&count=1", wh.ID), nil, &page)
		return env.Total != nil && *env.Total == events
	})
	for start := 0; start < events; start += 100 {
		var page []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&count=100&startIndex=%d", wh.ID, start), nil, &page)
		for _, r := range page {
			rows[r.ID] = r
		}
	}
	mu.Lock()
	defer mu.Unlock()
	duplicates := 0
	for _, id := range ids {
		r, ok := rows[id]
		switch {
		case !ok:
			t.Errorf("delivery %d is missing from the log", id)
		case hits[id] == 0:
			t.Errorf("delivery %d never reached the receiver", id)
		case r.State != "delivered" || r.Status != 200:
			t.Errorf("delivery %d: state %s status %d, want delivered 200", id, r.State, r.Status)
		case hits[id] == r.Attempts:
		case hits[id] == r.Attempts+1:
			duplicates++ // sent by the killed node, never recorded, sent again after its lease expired
		default:
			t.Errorf("delivery %d: receiver got %d requests, log records %d attempts", id, hits[id], r.Attempts)
		}
	}
	// A node holds two claims per sender: besides its attempts in flight, as many may have been
	// made and wait to be recorded.
	if duplicates > 4*concurrency {
		t.Errorf("%d deliveries were received once more than recorded; at most %d (the killed node's claims: four per sender, attempted and not yet recorded) may be", duplicates, 4*concurrency)
	}
	t.Logf("%d events, %d receiver requests, %d duplicates from the killed node", events, total.Load(), duplicates)
}
