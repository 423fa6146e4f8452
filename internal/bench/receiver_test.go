package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// postEnvelope posts the envelope of delivery id, published at pub, to path, and returns the
// status.
func postEnvelope(t testing.TB, url, path string, id int64, pub time.Time, retry *hookd.RetryInfo) int {
	t.Helper()
	ev := &hookd.Event{ID: 1, Trigger: benchTrigger, Payload: payload(id, pub.UnixNano()), CreatedOn: pub}
	body, err := hookd.BuildBody(ev, &hookd.Webhook{ID: 1, URI: url + path}, id, retry)
	if err != nil {
		t.Fatalf("BuildBody: %v", err)
	}
	resp, err := http.Post(url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceiver(t *testing.T) {
	t.Parallel()
	r := NewReceiver(time.Millisecond)
	now := time.Unix(1_800_000_000, 0)
	r.now = func() time.Time { return now }
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	rc := newReceiverClient(srv.URL)
	t.Cleanup(rc.hc.CloseIdleConnections)
	ctx := context.Background()

	cases := []struct {
		path   string
		id     int64
		ago    time.Duration
		retry  bool
		status int
	}{
		{"/ok/a", 1, 10 * time.Millisecond, false, 200},
		{"/ok/a", 2, 30 * time.Millisecond, false, 200},
		{"/ok/a", 2, 5 * time.Millisecond, false, 200}, // a duplicate: not counted again
		{"/fail/b", 3, 20 * time.Millisecond, false, 500},
		{"/fail/b", 3, time.Millisecond, true, 500}, // an automatic retry
		{"/slow/c", 4, 40 * time.Millisecond, false, 200},
		{"/nope/d", 5, time.Millisecond, false, 404},
	}
	for _, c := range cases {
		var retry *hookd.RetryInfo
		if c.retry {
			retry = &hookd.RetryInfo{Count: 1, On: now, LastFailureOn: now}
		}
		if got := postEnvelope(t, srv.URL, c.path, c.id, now.Add(-c.ago), retry); got != c.status {
			t.Errorf("POST %s id %d: got status %d, want %d", c.path, c.id, got, c.status)
		}
	}

	st, err := rc.stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.Firsts != 4 || st.Duplicates != 1 || st.Retries != 1 {
		t.Errorf("got firsts %d, duplicates %d, retries %d; want 4, 1, 1", st.Firsts, st.Duplicates, st.Retries)
	}
	if st.ByPath["ok/a"] != 2 || st.ByPath["fail/b"] != 1 || st.ByPath["slow/c"] != 1 {
		t.Errorf("got by path %v, want ok/a 2, fail/b 1, slow/c 1", st.ByPath)
	}
	if st.FirstRecv != now.UnixNano() || st.LastRecv != now.UnixNano() {
		t.Errorf("got receipts %d..%d, want both %d", st.FirstRecv, st.LastRecv, now.UnixNano())
	}

	ok, err := rc.latency(ctx, LatencyQuery{Class: ClassOK})
	if err != nil {
		t.Fatalf("latency: %v", err)
	}
	if ok.Count != 2 || ok.P50 != 10*time.Millisecond || ok.Max != 30*time.Millisecond {
		t.Errorf("got ok latency %+v, want 2 deliveries, p50 10ms, max 30ms", ok.Latency)
	}
	window, err := rc.latency(ctx, LatencyQuery{PubFrom: now.Add(-25 * time.Millisecond).UnixNano(), PubTo: now.Add(-15 * time.Millisecond).UnixNano()})
	if err != nil {
		t.Fatalf("latency: %v", err)
	}
	if window.Count != 1 || window.Max != 20*time.Millisecond {
		t.Errorf("got window latency %+v, want only the 20ms delivery", window.Latency)
	}

	if err := rc.reset(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if st, err := rc.stats(ctx); err != nil || st.Firsts != 0 || len(st.ByPath) != 0 {
		t.Errorf("after reset: got %+v, %v; want nothing", st, err)
	}
}

func TestNewLatency(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"Empty", nil, Latency{}},
		{"One", []time.Duration{5 * ms}, Latency{Count: 1, P50: 5 * ms, P95: 5 * ms, P99: 5 * ms, Max: 5 * ms, Mean: 5 * ms}},
		{"Unsorted", []time.Duration{4 * ms, 1 * ms, 3 * ms, 2 * ms}, Latency{Count: 4, P50: 2 * ms, P95: 4 * ms, P99: 4 * ms, Max: 4 * ms, Mean: 2500 * time.Microsecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := NewLatency(c.in); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("HundredValues", func(t *testing.T) {
		t.Parallel()
		var ds []time.Duration
		for i := 100; i >= 1; i-- {
			ds = append(ds, time.Duration(i)*ms)
		}
		got := NewLatency(ds)
		if got.P50 != 50*ms || got.P95 != 95*ms || got.P99 != 99*ms || got.Max != 100*ms {
			t.Errorf("got %+v, want p50 50ms, p95 95ms, p99 99ms, max 100ms", got)
		}
	})
}

func TestConfigClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"AllHealthy", Config{Webhooks: 2}, []string{ClassOK, ClassOK}},
		{"ShareRounds", Config{Webhooks: 10, FailShare: 0.25, SlowHooks: 1},
			[]string{ClassFail, ClassFail, ClassFail, ClassSlow, ClassOK, ClassOK, ClassOK, ClassOK, ClassOK, ClassOK}},
		{"StrugglingAfterSlow", Config{Webhooks: 4, SlowHooks: 1, StruggleHooks: 2},
			[]string{ClassSlow, ClassStruggle, ClassStruggle, ClassOK}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.cfg.classes()
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := map[string]Config{
		"TooManySpecialWebhooks": {Webhooks: 2, FailShare: 1, SlowHooks: 1},
		"RateWithBacklog":        {Backlog: true, Rate: 100},
		"NegativeShare":          {FailShare: -0.1},
		"TooManyStruggling":      {Webhooks: 3, SlowHooks: 1, StruggleHooks: 3},
		"NegativeStruggleCap":    {StruggleHooks: 1, StruggleCap: -1},
		"BatchTooLarge":          {Batch: 1001},
		"BatchWithBacklog":       {Backlog: true, Batch: 100},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := cfg.Default().Validate(); err == nil {
				t.Errorf("got no error for %+v, want one", cfg)
			}
		})
	}
	if err := (Config{}).Default().Validate(); err != nil {
		t.Errorf("defaults: got %v, want no error", err)
	}
}
