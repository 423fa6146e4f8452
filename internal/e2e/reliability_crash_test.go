package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/servertest"
)

// TestReliabilityCrashLoop publishes events without pause while the server is killed with
// SIGKILL at random moments, four times, and restarted on the same SQLite file each time.
// Afterwards every event whose publish was answered has reached the receiver at least once,
// and the log shows every delivery delivered: none is left in flight.
func TestReliabilityCrashLoop(t *testing.T) {
	t.Parallel()
	const kills = 4
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)

	var mu sync.Mutex
	received := map[int64]int{} // delivery id (event.id of the body) → requests
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond) // keep attempts in flight when the kill lands
		w.WriteHeader(http.StatusOK)
	})
	countReceived := func() map[int64]int {
		mu.Lock()
		defer mu.Unlock()
		clear(received)
		for _, h := range rc.Hits() {
			var b struct {
				Event struct{ ID int64 } `json:"event"`
			}
			if json.Unmarshal(h.Body, &b) == nil {
				received[b.Event.ID]++
			}
		}
		return received
	}

	key := hookd.NewKeySecret()
	env := map[string]string{
		"HOOKD_DB":               "sqlite:" + filepath.Join(t.TempDir(), "hookd.db"),
		"HOOKD_ADMIN_KEY":        key,
		"HOOKD_ALLOWED_NETWORKS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":   "100ms,200ms,400ms,800ms,1s,1s,1s,1s",
		"HOOKD_ATTEMPT_TIMEOUT":  "1s",
		"HOOKD_LEASE":            "2s",
		"HOOKD_CONCURRENCY":      "8",
		"HOOKD_LOG_LEVEL":        "warn",
	}
	n := startNode(t, env)
	api := &apiClient{t: t, url: n.URL, key: key}
	var wh webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "crash-loop", "uri": rc.URL, "secretKey": "crash-loop-secret", "enabled": true}, &wh)

	var published []int64 // deliveries whose publish was answered 202
	for k := range kills + 1 {
		stop := make(chan struct{})
		ids := make(chan []int64, 2)
		for p := range 2 {
			go func() { ids <- publishUntilStopped(n.URL, key, stop, p) }()
		}
		if k == kills {
			// The last run is not killed: publish a little more, then let the node catch up.
			before := len(rc.Hits())
			servertest.Eventually(t, 10*time.Second, "the last node delivers", func() bool { return len(rc.Hits()) > before })
			close(stop)
			published = append(append(published, <-ids...), <-ids...)
			break
		}
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond) // a random moment of the run
		n.Kill9(t)
		close(stop)
		got := append(<-ids, <-ids...)
		published = append(published, got...)
		t.Logf("kill %d: %d events published in this run, %d requests received so far", k+1, len(got), len(rc.Hits()))
		n = startNode(t, env)
	}
	api.url = n.URL
	if len(published) < 100 {
		t.Fatalf("got %d events published, want a sustained run of at least 100", len(published))
	}

	servertest.Eventually(t, 30*time.Second, "every published event reaches the receiver", func() bool {
		got := countReceived()
		for _, id := range published {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	var states map[int64]string
	servertest.Eventually(t, 15*time.Second, "every delivery recorded as delivered, none in flight", func() bool {
		states = logStates(t, api, wh.ID)
		for _, s := range states {
			if s != string(hookd.DeliveryStateDelivered) {
				return false
			}
		}
		return true
	})
	for _, id := range published {
		if states[id] != string(hookd.DeliveryStateDelivered) {
			t.Errorf("delivery %d: got state %q in the log, want delivered", id, states[id])
		}
	}
	dups := 0
	for _, c := range countReceived() {
		dups += c - 1
	}
	t.Logf("%d events published across %d kills, %d log rows, %d duplicate requests", len(published), kills, len(states), dups)
}

// publishUntilStopped publishes file.created events to url until stop closes or the server
// stops answering, and returns the ids of the deliveries of the publishes answered 202.
func publishUntilStopped(url, key string, stop <-chan struct{}, publisher int) []int64 {
	hc := &http.Client{Timeout: 5 * time.Second}
	var ids []int64
	for i := 0; ; i++ {
		select {
		case <-stop:
			return ids
		default:
		}
		body, _ := json.Marshal(map[string]any{"trigger": "file.created", "payload": map[string]any{"publisher": publisher, "seq": i}})
		req, _ := http.NewRequest("POST", url+"/api/2.0/webhooks/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return ids // killed mid-request: the publisher does not know whether it was stored
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			Response struct {
				Deliveries []struct{ ID int64 } `json:"deliveries"`
			} `json:"response"`
		}
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &env) != nil {
			return ids
		}
		for _, d := range env.Response.Deliveries {
			ids = append(ids, d.ID)
		}
	}
}

// logStates reads every log row of webhook id through the API and returns its state by id.
func logStates(t *testing.T, api *apiClient, webhookID int64) map[int64]string {
	t.Helper()
	states := map[int64]string{}
	for start := 0; ; start += 100 {
		var rows []logDTO
		env := api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&count=100&startIndex=%d", webhookID, start), nil, &rows)
		for _, r := range rows {
			states[r.ID] = r.State
		}
		if len(rows) < 100 || env.Total == nil || int64(start+100) >= *env.Total {
			return states
		}
	}
}
