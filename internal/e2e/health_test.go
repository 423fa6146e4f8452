package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// Endpoint health end to end (docs/health.md): receivers that fail and recover, or answer 429
// with Retry-After; what they saw, and what the API and the log show.

// healthDTO is the hookd health part of the webhook config object.
type healthDTO struct {
	ID           int64   `json:"id"`
	Enabled      bool    `json:"enabled"`
	Health       string  `json:"health"`
	HealthReason string  `json:"healthReason"`
	HealthSince  *string `json:"healthSince"`
	ProbeAt      *string `json:"probeAt"`
	Ordered      bool    `json:"ordered"`
}

// healthOf reads one webhook's health from the list (DocSpace's GET settings/webhook).
func (api *apiClient) healthOf(id int64) healthDTO {
	api.t.Helper()
	var list []struct {
		Configs healthDTO `json:"configs"`
	}
	api.ok(200, "GET", "/api/2.0/settings/webhook", nil, &list)
	for _, c := range list {
		if c.Configs.ID == id {
			return c.Configs
		}
	}
	api.t.Fatalf("webhook %d is not listed", id)
	return healthDTO{}
}

// logOf returns the log rows of one webhook, newest first.
func (api *apiClient) logOf(hook int64) []logDTO {
	api.t.Helper()
	var all []logDTO
	for {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&count=100&startIndex=%d", hook, len(all)), nil, &rows)
		all = append(all, rows...)
		if len(rows) < 100 {
			return all
		}
	}
}

// fastHealth is a server whose health policy and retry schedule act in a test's time.
func fastHealth(db string) func(*server.Config) {
	return func(c *server.Config) {
		c.DB = db
		c.RetrySchedule = []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond,
			100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
		c.DegradeAfter = 2
		c.PauseAfter = 5
		c.ProbeMin = 300 * time.Millisecond
		c.ProbeMax = 600 * time.Millisecond
		c.PauseOnRetryAfter = time.Second
	}
}

// TestHealthPauseProbeResume: a receiver goes down; its webhook degrades, then pauses; while
// paused nothing but probes reaches it and no delivery fails; when it comes back a probe resumes
// the webhook and every event arrives. A second receiver is not affected.
func TestHealthPauseProbeResume(t *testing.T) {
	forEachBackend(t, testHealthPauseProbeResume)
}

func testHealthPauseProbeResume(t *testing.T, db string) {
	env := servertest.Start(t, fastHealth(db))
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	delivered := map[int64]int{} // event payload n → 200 answers
	var hitTimes []time.Time
	var ref receiverRef
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hitTimes = append(hitTimes, time.Now())
		mu.Unlock()
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		var body struct {
			Payload struct{ N int64 } `json:"payload"`
		}
		if err := json.Unmarshal(ref.hit(n).Body, &body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		delivered[body.Payload.N]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	ref.set(flaky)
	bystander := newReceiver(t, nil)
	var a, b webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "flaky", "uri": flaky.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "bystander", "uri": bystander.URL, "secretKey": secretB, "enabled": true, "triggers": 256}, &b)
	if h := api.healthOf(a.ID); h.Health != "healthy" || h.HealthSince != nil {
		t.Fatalf("new webhook: got %+v, want healthy with no since", h)
	}

	const n = 12
	for i := range n {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"n": i}}, nil)
	}
	servertest.Eventually(t, 20*time.Second, "the failing webhook is paused", func() bool { return api.healthOf(a.ID).Health == "paused" })
	h := api.healthOf(a.ID)
	if h.HealthReason == "" || h.HealthSince == nil || h.ProbeAt == nil {
		t.Errorf("paused: got %+v, want a reason, a since and a probe time", h)
	}
	// While paused, every delivery waits: none failed, all held once the last attempts are in.
	servertest.Eventually(t, 10*time.Second, "every delivery is held", func() bool {
		rows := api.logOf(a.ID)
		held := 0
		for _, r := range rows {
			if r.State == "failed" {
				t.Fatalf("delivery %d failed while its webhook was paused", r.ID)
			}
			if r.State == "held" {
				held++
			}
		}
		return len(rows) == n && held >= n-1 // one may be out as a probe
	})
	// Probes only: over 3 s the receiver sees a handful (the backoff is 300-600 ms, the worker
	// looks for due probes every second), not the retry schedule's stream of 100 ms retries.
	mu.Lock()
	before := len(hitTimes)
	mu.Unlock()
	time.Sleep(3 * time.Second)
	mu.Lock()
	probes := len(hitTimes) - before
	mu.Unlock()
	if probes < 1 || probes > 6 {
		t.Errorf("got %d requests in 3 s while paused, want a few probes", probes)
	}

	// The bystander is served meanwhile.
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.uploaded", "payload": map[string]any{"id": 1}}, nil)
	servertest.Eventually(t, 10*time.Second, "the bystander gets its event", func() bool { return len(bystander.Hits()) == 1 })

	down.Store(false)
	servertest.Eventually(t, 20*time.Second, "a probe resumes the webhook", func() bool { return api.healthOf(a.ID).Health == "healthy" })
	servertest.Eventually(t, 20*time.Second, "every held delivery is delivered", func() bool {
		rows := api.logOf(a.ID)
		for _, r := range rows {
			if r.State != "delivered" {
				return false
			}
		}
		return len(rows) == n
	})
	// Each event was answered 200 exactly once.
	mu.Lock()
	for i := range int64(n) {
		if delivered[i] != 1 {
			t.Errorf("event %d: answered 200 %d times, want once", i, delivered[i])
		}
	}
	mu.Unlock()
	m := scrape(t, env.URL)
	if m[`hookd_webhook_health_changes_total{to="paused"}`] < 1 || m[`hookd_webhook_health_changes_total{to="healthy"}`] < 1 {
		t.Errorf("health changes in /metrics: want paused and healthy counted, got paused %v healthy %v",
			m[`hookd_webhook_health_changes_total{to="paused"}`], m[`hookd_webhook_health_changes_total{to="healthy"}`])
	}
}

// TestHealthRetryAfterPauses: a 429 asking to wait 2 s pauses the webhook until then; nothing is
// sent before; then it resumes and delivers.
func TestHealthRetryAfterPauses(t *testing.T) {
	forEachBackend(t, testHealthRetryAfterPauses)
}

func testHealthRetryAfterPauses(t *testing.T, db string) {
	env := servertest.Start(t, fastHealth(db))
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var mu sync.Mutex
	var times []time.Time
	limited := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", strconv.Itoa(2))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "limited", "uri": limited.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"n": 1}}, nil)
	servertest.Eventually(t, 10*time.Second, "the 429 pauses the webhook", func() bool { return api.healthOf(a.ID).Health == "paused" })
	for i := 2; i <= 4; i++ {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"n": i}}, nil)
	}
	servertest.Eventually(t, 15*time.Second, "all four delivered", func() bool {
		rows := api.logOf(a.ID)
		for _, r := range rows {
			if r.State != "delivered" {
				return false
			}
		}
		return len(rows) == 4
	})
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 1900*time.Millisecond {
		t.Errorf("second request %v after the 429 with Retry-After: 2, want at least 2 s", gap)
	}
	if got := api.healthOf(a.ID).Health; got != "healthy" {
		t.Errorf("after the wait: got %s, want healthy", got)
	}
}

// TestHealthManualPause: a person pauses a webhook; publishes are held, never probed; resume
// sends them.
func TestHealthManualPause(t *testing.T) {
	env := servertest.Start(t, fastHealth("sqlite:"+t.TempDir()+"/hookd.db"))
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	rc := newReceiver(t, nil)
	var a webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "maint", "uri": rc.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	var h healthDTO
	api.ok(200, "POST", fmt.Sprintf("/api/2.0/webhooks/%d/pause", a.ID), nil, &h)
	if h.Health != "paused" {
		t.Fatalf("pause: got %+v", h)
	}
	for i := range 3 {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"n": i}}, nil)
	}
	time.Sleep(time.Second) // longer than ProbeMax: a person's pause is never probed
	if got := len(rc.Hits()); got != 0 {
		t.Fatalf("a manually paused receiver got %d requests, want 0", got)
	}
	for _, r := range api.logOf(a.ID) {
		if r.State != "held" {
			t.Errorf("delivery %d: got state %s, want held", r.ID, r.State)
		}
	}
	api.ok(200, "POST", fmt.Sprintf("/api/2.0/webhooks/%d/resume", a.ID), nil, &h)
	if h.Health != "healthy" {
		t.Fatalf("resume: got %+v", h)
	}
	servertest.Eventually(t, 10*time.Second, "the held deliveries go out", func() bool { return len(rc.Hits()) == 3 })
}

// TestAdaptiveConcurrency: a receiver that answers 503 above 3 requests in flight is not
// hammered up to the ceiling, while every event still arrives; a healthy receiver beside it
// gets its events quickly.
func TestAdaptiveConcurrency(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config) {
		c.DB = "sqlite:" + t.TempDir() + "/hookd.db"
		c.RetrySchedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond,
			200 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second}
		c.PerWebhookInflight = 16
		c.Concurrency = 32
		c.HealthOff = true // this test is about the adaptive limit alone
	})
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	var inflight, peak, rejected atomic.Int64
	struggling := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		if cur > 3 {
			rejected.Add(1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	healthy := newReceiver(t, nil)
	var a, b webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "struggling", "uri": struggling.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "healthy", "uri": healthy.URL, "secretKey": secretB, "enabled": true, "triggers": 128}, &b)
	const n = 200
	events := make([]map[string]any, n)
	for i := range events {
		events[i] = map[string]any{"trigger": "file.created", "payload": map[string]any{"n": i}}
	}
	api.ok(202, "POST", "/api/2.0/webhooks/events/batch", map[string]any{"events": events}, nil)
	servertest.Eventually(t, 60*time.Second, "every event reaches both", func() bool {
		return len(healthy.Hits()) >= n && countDelivered(api, a.ID) == n
	})
	attempts := len(struggling.Hits())
	t.Logf("struggling receiver: %d requests for %d events, %d answered 503, peak in flight %d", attempts, n, rejected.Load(), peak.Load())
	// With a fixed cap of 16 the receiver would see 16 at once and reject most of them; the
	// adaptive limit keeps it near its capacity of 3.
	if p := peak.Load(); p > 8 {
		t.Errorf("peak in flight at the struggling receiver: got %d, want at most 8 (capacity 3, ceiling 16)", p)
	}
	if r := rejected.Load(); r > n/2 {
		t.Errorf("the struggling receiver rejected %d requests for %d events, want fewer than half", r, n)
	}
}

func countDelivered(api *apiClient, hook int64) int {
	n := 0
	for _, r := range api.logOf(hook) {
		if r.State == "delivered" {
			n++
		}
	}
	return n
}
