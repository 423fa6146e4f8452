package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// scrape reads url's /metrics and returns each sample by its name and labels as written,
// e.g. `hookd_attempts_total{outcome="failed"}`.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: got %d %s, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sumOf adds the samples of a metric over all its labels.
func sumOf(m map[string]float64, name string) float64 {
	s := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// allLogs pages through the whole delivery log.
func allLogs(t testing.TB, api *apiClient) []logDTO {
	t.Helper()
	var all []logDTO
	for start := 0; ; start += 100 {
		var page []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?count=100&startIndex=%d", start), nil, &page)
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
	}
}

// TestMetricsAddUp runs deliveries that succeed, succeed on retry, fail for good and hit a
// 410, then checks that /metrics agrees with the log API: deliveries created, attempts by
// outcome, durations observed, nothing left in flight or in the backlog.
func TestMetricsAddUp(t *testing.T) {
	forEachBackend(t, testMetricsAddUp)
}

func testMetricsAddUp(t *testing.T, db string) {
	const events = 20
	var (
		mu    sync.Mutex
		seen  = map[int64]bool{}
		flaky *receiver
	)
	flaky = newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		var b struct {
			Event struct{ ID int64 } `json:"event"`
		}
		if err := json.Unmarshal(flaky.Hits()[n-1].Body, &b); err != nil {
			t.Errorf("receiver: body is not JSON: %v", err)
		}
		mu.Lock()
		first := !seen[b.Event.ID]
		seen[b.Event.ID] = true
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusInternalServerError) // fails once, then succeeds on retry
		}
	})
	ok := newReceiver(t, nil)
	dead := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	gone := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })

	env := servertest.Start(t, func(c *server.Config) { c.DB = db }, noHealth)
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	hooks := map[string]*receiver{"ok": ok, "flaky": flaky, "dead": dead, "gone": gone}
	ids := map[int64]string{}
	for name, rc := range hooks {
		var wh webhookDTO
		api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": name, "uri": rc.URL, "secretKey": "metrics-secret", "enabled": true}, &wh)
		ids[wh.ID] = name
	}
	for i := range events {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}}, nil)
	}
	servertest.Eventually(t, 30*time.Second, "every delivery reaches a final state", func() bool {
		for _, d := range allLogs(t, api) {
			if d.State != "delivered" && d.State != "failed" {
				return false
			}
		}
		return true
	})

	logs := allLogs(t, api)
	var attempts, delivered, failed float64
	perHook, rows := map[string]int{}, map[string]int{}
	for _, d := range logs {
		attempts += float64(d.Attempts)
		perHook[ids[d.ConfigID]] += d.Attempts
		rows[ids[d.ConfigID]]++
		switch d.State {
		case "delivered":
			delivered++
		case "failed":
			failed++
		}
	}
	m := scrape(t, env.URL)
	for _, c := range []struct {
		metric    string
		got, want float64
	}{
		{"events published", m["hookd_events_published_total"], events},
		{"deliveries created by publish", m[`hookd_deliveries_created_total{origin="publish"}`], float64(len(logs))},
		{"attempts, all outcomes", sumOf(m, "hookd_attempts_total"), attempts},
		{"attempts delivered = delivered rows", m[`hookd_attempts_total{outcome="delivered"}`], delivered},
		{"attempts failed = failed rows", m[`hookd_attempts_total{outcome="failed"}`], failed},
		{"attempts retried", m[`hookd_attempts_total{outcome="retry"}`], attempts - delivered - failed},
		{"durations observed", sumOf(m, "hookd_attempt_duration_seconds_count"), attempts},
		{"in flight", m["hookd_attempts_in_flight"], 0},
		{"backlog", sumOf(m, "hookd_deliveries_backlog"), 0},
		{"due", m["hookd_deliveries_due"], 0},
		{"oldest due age", m["hookd_oldest_due_delivery_age_seconds"], 0},
		{"webhooks disabled by 410", m[`hookd_webhooks_disabled_total{reason="gone"}`], 1},
		{"delivered rows", delivered, 2 * events}, // ok, and flaky on retry
		{"failed rows", failed, float64(events + rows["gone"])},
		{"flaky attempts in the log", float64(perHook["flaky"]), 2 * events},
		{"dead attempts in the log", float64(perHook["dead"]), float64(events * (1 + len(servertest.FastSchedule)))},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.metric, c.got, c.want)
		}
	}
	// Every request a receiver got is an attempt in the log, and the other way round (the
	// 410 webhook's later deliveries fail without a request: it is disabled).
	for name, rc := range map[string]*receiver{"ok": ok, "flaky": flaky, "dead": dead} {
		if got, want := len(rc.Hits()), perHook[name]; got != want {
			t.Errorf("receiver %s got %d requests, the log shows %d attempts", name, got, want)
		}
	}
	if n := len(gone.Hits()); n < 1 || n > rows["gone"] {
		t.Errorf("the 410 receiver got %d requests, want 1 to %d (those in flight when it first answered)", n, rows["gone"])
	}
}
