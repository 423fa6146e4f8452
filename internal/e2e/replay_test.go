package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// Replay jobs end to end (docs/replay.md): receivers that fail and recover, are slow, or answer
// 429 with Retry-After; what they saw, what the job reported and what the log shows.

// replayJob is the API's replay as this test reads it.
type replayJob struct {
	ID        int64  `json:"id"`
	State     string `json:"state"`
	Total     int64  `json:"total"`
	Processed int64  `json:"processed"`
	Pending   int64  `json:"pending"`
	Retried   int64  `json:"retried"`
	Skipped   int64  `json:"skipped"`
	Failed    int64  `json:"failed"`
	Cancelled int64  `json:"cancelled"`
	Rate      int    `json:"rate"`
	Window    int    `json:"window"`
	StartedOn string `json:"startedOn"`
	Finished  string `json:"finishedOn"`
}

type replayItem struct {
	DeliveryID    int64  `json:"deliveryId"`
	State         string `json:"state"`
	NewDeliveryID int64  `json:"newDeliveryId"`
}

// bodyEventID reads event.id of a delivery body: the delivery id the receiver got.
func bodyEventID(body []byte) int64 {
	var b struct {
		Event struct{ ID int64 } `json:"event"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Event.ID
}

// startReplay posts a replay with an Idempotency-Key header and returns the status and job.
func startReplay(t *testing.T, api *apiClient, key string, body map[string]any) (int, replayJob) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", api.url+"/api/2.0/webhooks/replays", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+api.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct{ Response replayJob }
	if err := json.Unmarshal(b, &env); err != nil || (resp.StatusCode != 200 && resp.StatusCode != 202) {
		t.Fatalf("start replay: got %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, env.Response
}

// failAll publishes n file.created events to webhook hook (the only one taking them) and waits
// until each of its deliveries has failed for good; it returns their ids, oldest first.
func failAll(t *testing.T, api *apiClient, hook int64, n int) []int64 {
	t.Helper()
	for i := range n {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"n": i}}, nil)
	}
	var ids []int64
	servertest.Eventually(t, 30*time.Second, "every delivery fails for good", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", hook), nil, &rows)
		ids = ids[:0]
		for _, r := range rows {
			if r.State != "failed" {
				return false
			}
			ids = append(ids, r.ID)
		}
		return len(rows) == n
	})
	slices.Sort(ids)
	return ids
}

func (api *apiClient) replay(id int64) replayJob {
	var j replayJob
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/webhooks/replays/%d", id), nil, &j)
	return j
}

func (api *apiClient) replayItems(id int64) []replayItem {
	var items []replayItem
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/webhooks/replays/%d/items?count=1000", id), nil, &items)
	return items
}

// TestReplayAfterAnOutage: a receiver is down, every delivery fails; it recovers; a dry run
// counts them, a replay re-sends each once at its pace with progress to watch, the same
// idempotency key does not start a second one, and a second replay leaves the retried alone.
func TestReplayAfterAnOutage(t *testing.T) {
	forEachBackend(t, testReplayAfterAnOutage)
}

func testReplayAfterAnOutage(t *testing.T, db string) {
	env := servertest.Start(t, func(c *server.Config) { c.DB = db }, noHealth)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var down atomic.Bool
	down.Store(true)
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}
	})
	bystander := newReceiver(t, nil)
	var a, b webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "flaky", "uri": flaky.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "bystander", "uri": bystander.URL, "secretKey": secretB, "enabled": true, "triggers": 256}, &b)
	const n = 20
	originals := failAll(t, api, a.ID, n)
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.uploaded", "payload": map[string]any{"id": 1}}, nil)
	servertest.Eventually(t, 10*time.Second, "the bystander gets its event", func() bool { return len(bystander.Hits()) == 1 })
	down.Store(false)
	seenBefore := len(flaky.Hits())

	filter := map[string]any{"configId": a.ID, "groupStatus": "Failed", "excludeRetried": true}
	var pv struct {
		Total, ToReplay int64
		Sample          []logDTO
	}
	api.ok(200, "POST", "/api/2.0/webhooks/replays", map[string]any{"configId": a.ID, "groupStatus": "Failed", "dryRun": true, "sample": 3}, &pv)
	if pv.Total != n || pv.ToReplay != n || len(pv.Sample) != 3 || pv.Sample[0].ID != originals[0] {
		t.Fatalf("dry run: got %+v, want %d to replay, the oldest first", pv, n)
	}

	body := map[string]any{"rate": 20}
	for k, v := range filter {
		body[k] = v
	}
	code, job := startReplay(t, api, "after-outage", body)
	if code != 202 || job.Total != n || job.Rate != 20 {
		t.Fatalf("start: got %d %+v, want 202 with %d items at 20/s", code, job, n)
	}
	// Progress: watched from outside, the job moves through the middle, never backwards.
	var seen []int64
	servertest.Eventually(t, 30*time.Second, "the replay finishes", func() bool {
		j := api.replay(job.ID)
		if len(seen) == 0 || j.Processed != seen[len(seen)-1] {
			seen = append(seen, j.Processed)
		}
		return j.State == "done"
	})
	if !slices.IsSorted(seen) || !slices.ContainsFunc(seen, func(p int64) bool { return p > 0 && p < n }) {
		t.Errorf("progress seen %v: want it rising through the middle", seen)
	}
	done := api.replay(job.ID)
	if done.Retried != n || done.Pending != 0 || done.Failed != 0 {
		t.Errorf("done: got %+v, want all %d retried", done, n)
	}
	// 20 items at 20/s go two per step, a step every 100 ms: the last one 900 ms after the first.
	start, _ := time.Parse(time.RFC3339Nano, done.StartedOn)
	end, _ := time.Parse(time.RFC3339Nano, done.Finished)
	if took := end.Sub(start); took < 900*time.Millisecond {
		t.Errorf("the replay took %v from first to last item, want at least 900ms at 20/s", took)
	}

	// The same key again: the same job, and nothing new.
	code, again := startReplay(t, api, "after-outage", body)
	if code != 200 || again.ID != job.ID {
		t.Errorf("same key: got %d job %d, want 200 and job %d", code, again.ID, job.ID)
	}
	var jobs []replayJob
	api.ok(200, "GET", "/api/2.0/webhooks/replays", nil, &jobs)
	if len(jobs) != 1 {
		t.Errorf("got %d jobs, want 1", len(jobs))
	}

	// What the receiver saw: each new delivery once, signed, with a 200.
	newIDs := map[int64]int64{} // new → original
	for _, it := range api.replayItems(job.ID) {
		if it.State != "retried" || it.NewDeliveryID == 0 {
			t.Fatalf("item %+v: want retried", it)
		}
		newIDs[it.NewDeliveryID] = it.DeliveryID
	}
	servertest.Eventually(t, 10*time.Second, "every replayed delivery reaches the receiver", func() bool {
		return len(flaky.Hits())-seenBefore >= n
	})
	got := map[int64]int{}
	for _, h := range flaky.Hits()[seenBefore:] {
		id := bodyEventID(h.Body)
		if _, ok := newIDs[id]; !ok {
			t.Errorf("the receiver got event %d, not a delivery of the replay", id)
		}
		got[id]++
		if err := verifySignature(secretA, h.Body, h.Signature); err != nil {
			t.Error(err)
		}
	}
	for id := range newIDs {
		if got[id] != 1 {
			t.Errorf("delivery %d reached the receiver %d times, want once", id, got[id])
		}
	}
	if hits := len(bystander.Hits()); hits != 1 {
		t.Errorf("the bystander got %d requests, want only its own event", hits)
	}

	// What the log shows: the originals untouched, one delivered retry of each.
	servertest.Eventually(t, 10*time.Second, "the log shows the retries delivered", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", a.ID), nil, &rows)
		retryOf := map[int64]int{}
		for _, r := range rows {
			switch {
			case r.RetryOf == 0 && (r.State != "failed" || r.Status != 503):
				t.Fatalf("original %d: got %s %d, want it left failed with 503", r.ID, r.State, r.Status)
			case r.RetryOf != 0 && (r.State != "delivered" || r.Status != 200 || newIDs[r.ID] != r.RetryOf):
				return false
			case r.RetryOf != 0:
				retryOf[r.RetryOf]++
			}
		}
		for _, id := range originals {
			if retryOf[id] != 1 {
				return false
			}
		}
		return len(rows) == 2*n
	})

	// Replaying the failures again finds them all retried: nothing goes out.
	code, second := startReplay(t, api, "after-outage-2", body)
	if code != 202 || second.State != "done" || second.Skipped != n || second.Retried != 0 {
		t.Errorf("second replay: got %d %+v, want done at once with %d skipped", code, second, n)
	}
}

// TestReplayCancelMidway: a slow replay is cancelled; it re-sends nothing more, and the items
// say which deliveries were left.
func TestReplayCancelMidway(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, noHealth)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "r", "uri": rc.URL, "secretKey": secretA, "enabled": true}, &a)
	const n = 30
	failAll(t, api, a.ID, n)
	down.Store(false)
	before := len(rc.Hits())

	_, job := startReplay(t, api, "slow", map[string]any{"configId": a.ID, "rate": 4})
	servertest.Eventually(t, 20*time.Second, "the slow replay re-sends a few", func() bool { return api.replay(job.ID).Retried >= 2 })
	var cancelled replayJob
	api.ok(200, "POST", fmt.Sprintf("/api/2.0/webhooks/replays/%d/cancel", job.ID), nil, &cancelled)
	if cancelled.State != "cancelled" || cancelled.Retried+cancelled.Cancelled != n || cancelled.Retried >= n/2 {
		t.Fatalf("cancel: got %+v, want cancelled part-way", cancelled)
	}
	// A negative check needs time to pass: at 4/s a job still running would re-send 4 more.
	time.Sleep(time.Second)
	if j := api.replay(job.ID); j.Retried != cancelled.Retried || j.State != "cancelled" {
		t.Errorf("a second after the cancel: got %+v, want it as it was", j)
	}
	servertest.Eventually(t, 10*time.Second, "the re-sent deliveries reach the receiver", func() bool {
		return len(rc.Hits())-before == int(cancelled.Retried)
	})
	var states = map[string]int{}
	for _, it := range api.replayItems(job.ID) {
		states[it.State]++
	}
	if states["retried"] != int(cancelled.Retried) || states["cancelled"] != int(cancelled.Cancelled) {
		t.Errorf("items: got %v, want %d retried and %d cancelled", states, cancelled.Retried, cancelled.Cancelled)
	}
	var rows []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", a.ID), nil, &rows)
	if len(rows) != n+int(cancelled.Retried) {
		t.Errorf("the log has %d rows, want %d originals and %d retries", len(rows), n, cancelled.Retried)
	}
}

// TestReplayWindowFollowsASlowReceiver: a receiver that slows down to 150 ms an answer never
// has more of the replay's deliveries at once than the job's window, though the webhook's
// in-flight cap would allow 16.
func TestReplayWindowFollowsASlowReceiver(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, noHealth)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var slow atomic.Bool
	var inFlight, peak atomic.Int64
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !slow.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		time.Sleep(150 * time.Millisecond) // the receiver's own slowness, not a test wait
	})
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "slow", "uri": rc.URL, "secretKey": secretA, "enabled": true}, &a)
	const n, window = 24, 3
	failAll(t, api, a.ID, n)
	slow.Store(true)
	before := len(rc.Hits())

	_, job := startReplay(t, api, "slow-receiver", map[string]any{"configId": a.ID, "rate": 1000, "window": window})
	servertest.Eventually(t, 30*time.Second, "the log shows every retry delivered", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx", a.ID), nil, &rows)
		return api.replay(job.ID).State == "done" && len(rows) == n
	})
	if p := peak.Load(); p > window || p < 2 {
		t.Errorf("the receiver had up to %d requests at once, want between 2 and the window, %d", p, window)
	}
	if got := len(rc.Hits()) - before; got != n {
		t.Errorf("the receiver got %d requests, want one per replayed delivery, %d", got, n)
	}
}

// TestReplayWindowHoldsRateLimitedDeliveries: a receiver answers the first request of each
// event with 429 and Retry-After; the replay's deliveries that got one stay in its window until
// they are through, so the receiver never has more than a window of events waiting.
func TestReplayWindowHoldsRateLimitedDeliveries(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, noHealth)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var replaying atomic.Bool
	var mu sync.Mutex
	waiting := map[int64]bool{} // events told to come back, not yet through
	peak := 0
	var rc *receiver
	rc = newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !replaying.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		id := bodyEventID(rc.Hits()[n-1].Body)
		mu.Lock()
		defer mu.Unlock()
		if _, seen := waiting[id]; !seen {
			waiting[id] = true
			peak = max(peak, countTrue(waiting))
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		waiting[id] = false
	})
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "limited", "uri": rc.URL, "secretKey": secretA, "enabled": true}, &a)
	const n, window = 12, 2
	failAll(t, api, a.ID, n)
	replaying.Store(true)

	_, job := startReplay(t, api, "rate-limited", map[string]any{"configId": a.ID, "rate": 1000, "window": window})
	servertest.Eventually(t, 30*time.Second, "every replayed event gets through", func() bool {
		if api.replay(job.ID).State != "done" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		return len(waiting) == n && countTrue(waiting) == 0
	})
	mu.Lock()
	if peak > window {
		t.Errorf("up to %d events were waiting after a 429 at once, want at most the window, %d", peak, window)
	}
	mu.Unlock()
	// The log: each retry delivered on its second attempt, the first one a 429.
	var rows []logDTO
	servertest.Eventually(t, 10*time.Second, "the log shows every retry delivered", func() bool {
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&groupStatus=Status2xx", a.ID), nil, &rows)
		return len(rows) == n
	})
	for _, r := range rows {
		if r.RetryOf == 0 || r.Attempts != 2 {
			t.Errorf("delivery %d: retryOf %d after %d attempts, want a retry delivered on the second", r.ID, r.RetryOf, r.Attempts)
		}
	}
	var attempts []struct{ Status int }
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/webhooks/deliveries/%d/attempts", rows[0].ID), nil, &attempts)
	if len(attempts) != 2 || attempts[0].Status != 429 || attempts[1].Status != 200 {
		t.Errorf("attempts of %d: got %+v, want 429 then 200", rows[0].ID, attempts)
	}
}

// TestReplayTwoNodes: two hookd nodes on one PostgreSQL run one replay together: every item is
// re-sent once, and the job keeps its pace across both.
func TestReplayTwoNodes(t *testing.T) {
	t.Parallel()
	db := pgtest.TestURL(t)
	one := servertest.Start(t, func(c *server.Config) { c.DB = db }, noHealth)
	two := servertest.Start(t, func(c *server.Config) { c.DB = db }, noHealth)
	api := &apiClient{t: t, url: one.URL, key: one.AdminKey}
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "r", "uri": rc.URL, "secretKey": secretA, "enabled": true}, &a)
	const n = 20
	originals := failAll(t, api, a.ID, n)
	down.Store(false)
	before := len(rc.Hits())

	_, job := startReplay(t, api, "two-nodes", map[string]any{"configId": a.ID, "rate": 10})
	other := &apiClient{t: t, url: two.URL, key: two.AdminKey}
	servertest.Eventually(t, 30*time.Second, "the replay is done", func() bool { return other.replay(job.ID).State == "done" })
	done := other.replay(job.ID)
	start, _ := time.Parse(time.RFC3339Nano, done.StartedOn)
	end, _ := time.Parse(time.RFC3339Nano, done.Finished)
	if took := end.Sub(start); done.Retried != n || took < 1800*time.Millisecond {
		t.Errorf("got %d retried in %v, want %d at 10/s across both nodes (at least 1.9 s)", done.Retried, took, n)
	}
	servertest.Eventually(t, 10*time.Second, "the receiver gets them", func() bool { return len(rc.Hits())-before >= n })
	retried := map[int64]int{}
	for _, it := range api.replayItems(job.ID) {
		retried[it.DeliveryID]++
	}
	for _, id := range originals {
		if retried[id] != 1 {
			t.Errorf("delivery %d retried %d times, want once", id, retried[id])
		}
	}
	if got := len(rc.Hits()) - before; got != n {
		t.Errorf("the receiver got %d requests, want %d", got, n)
	}
}

// countTrue counts the true values of m.
func countTrue(m map[int64]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
