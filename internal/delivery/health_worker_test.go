package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// switchReceiver answers 500 while down, else 200, and remembers each request: when it came,
// for which delivery, and whether it was answered 2xx.
type switchReceiver struct {
	*httptest.Server
	down  atomic.Bool
	delay time.Duration // how long each answer takes
	mu    sync.Mutex
	seen  []hit
}

type hit struct {
	at         time.Time
	deliveryID int64
	ok         bool
}

func newSwitchReceiver(tb testing.TB) *switchReceiver {
	tb.Helper()
	s := &switchReceiver{}
	s.down.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b hookd.Body
		json.Unmarshal(body, &b)
		ok := !s.down.Load()
		s.mu.Lock()
		s.seen = append(s.seen, hit{at: time.Now(), deliveryID: b.Event.ID, ok: ok})
		s.mu.Unlock()
		time.Sleep(s.delay)
		if !ok {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *switchReceiver) hits() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.seen...)
}

// waitHealth polls until webhook id is in health want, failing after 10 s.
func waitHealth(tb testing.TB, store hookd.Store, id int64, want hookd.WebhookHealth) *hookd.Webhook {
	tb.Helper()
	return waitWebhook(tb, store, id, string(want), func(w *hookd.Webhook) bool { return w.State() == want })
}

// waitWebhook polls until webhook id satisfies ok, failing after 10 s.
func waitWebhook(tb testing.TB, store hookd.Store, id int64, want string, ok func(*hookd.Webhook) bool) *hookd.Webhook {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := store.WebhookGet(context.Background(), id)
		if err != nil {
			tb.Fatalf("get webhook %d: %v", id, err)
		}
		if ok(w) {
			return w
		}
		if time.Now().After(deadline) {
			tb.Fatalf("got webhook %d %s (%q, %d failed probes), want %s", id, w.State(), w.HealthReason, w.Probes, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// states counts the states of deliveries ds.
func states(tb testing.TB, store hookd.Store, ds []*hookd.Delivery) map[hookd.DeliveryState]int {
	tb.Helper()
	out := map[hookd.DeliveryState]int{}
	for _, d := range ds {
		g, err := store.DeliveryGet(context.Background(), d.ID)
		if err != nil {
			tb.Fatalf("get delivery %d: %v", d.ID, err)
		}
		out[g.State]++
	}
	return out
}

// TestWorkerPausesAndProbes follows a receiver through an outage: failures degrade then
// pause its webhook; while paused, new deliveries are held and only probes reach the
// receiver, on the backoff; when it recovers, the next probe resumes the webhook and every
// held delivery arrives exactly once.
func TestWorkerPausesAndProbes(t *testing.T) {
	t.Parallel()
	// Probes far enough apart that the checks between them are done before the next one.
	const probeMin, probeMax = 800 * time.Millisecond, 1600 * time.Millisecond
	store := newTestStore(t)
	rcv := newSwitchReceiver(t)
	webhook := createWebhook(t, store, rcv.URL)
	first := publish(t, store, 2)
	w := startWorker(t, store, delivery.Config{
		PerWebhookInflight: 1, ProbeInterval: 20 * time.Millisecond,
		// Retries slow enough for the recorder to judge each failure before the next.
		Schedule: slices.Repeat([]time.Duration{200 * time.Millisecond}, 5),
		Health:   delivery.HealthPolicy{DegradeAfter: 2, PauseAfter: 4, ProbeMin: probeMin, ProbeMax: probeMax},
	}, delivery.SenderConfig{})

	paused := waitHealth(t, store, webhook.ID, hookd.HealthPaused)
	if !strings.HasPrefix(paused.HealthReason, "4 failures in a row; last: receiver answered 500") || paused.ProbeAt == nil {
		t.Errorf("got reason %q probe at %v, want 4 failures in a row and a probe time", paused.HealthReason, paused.ProbeAt)
	}
	before := len(rcv.hits())
	if before < 4 || before > 5 {
		t.Errorf("got %d requests before the pause, want the 4 failures (and one sent while the pause was written, on a busy machine)", before)
	}
	later := publish(t, store, 3)
	for _, d := range later {
		if d.State != hookd.DeliveryStateHeld {
			t.Errorf("delivery %d: got %s when published while paused, want held", d.ID, d.State)
		}
	}
	// ProbeMin ± 10 % from when the worker wrote the pause; the store stamps HealthSince when
	// the write runs, which a busy machine may delay.
	if gap := paused.ProbeAt.Sub(*paused.HealthSince); gap < probeMin/2 || gap > probeMin*11/10 {
		t.Errorf("got the first probe due %s after the pause, want about %s", gap, probeMin)
	}

	// Two probes fail, a backoff apart; nothing else reaches the receiver. (On a busy machine
	// an attempt may have left while the pause was being written: it comes before the probe
	// time.)
	waitWebhook(t, store, webhook.ID, "paused after 2 failed probes", func(w *hookd.Webhook) bool {
		return w.State() == hookd.HealthPaused && w.Probes == 2
	})
	rcv.down.Store(false)
	var probes []hit
	for i, h := range rcv.hits()[before:] {
		switch {
		case h.at.Before(paused.ProbeAt.Add(-10 * time.Millisecond)):
			if i > 0 {
				t.Errorf("got a request %s before the first probe was due, want none but a straggler", paused.ProbeAt.Sub(h.at))
			}
		case !h.ok:
			probes = append(probes, h)
		}
	}
	if len(probes) != 2 {
		t.Fatalf("got %d failed probes at the receiver, want 2", len(probes))
	}
	if gap := probes[1].at.Sub(probes[0].at); gap < probeMax*8/10 {
		t.Errorf("got the second probe %s after the first, want about %s (doubled)", gap, probeMax)
	}

	all := append(first, later...)
	waitState(t, store, hookd.DeliveryStateDelivered, all...)
	resumed := waitHealth(t, store, webhook.ID, hookd.HealthHealthy)
	if resumed.HealthReason != "probe delivered" {
		t.Errorf("got reason %q, want %q", resumed.HealthReason, "probe delivered")
	}
	logs := w.logs.String()
	for _, want := range []string{"from=healthy to=degraded", "from=degraded to=paused", "from=paused to=paused", "from=paused to=healthy"} {
		if !strings.Contains(logs, want) { // written after the store's change: checked last
			t.Errorf("got logs without %q", want)
		}
	}
	hs := rcv.hits()
	delivered := map[int64]int{}
	for _, h := range hs {
		if h.ok {
			delivered[h.deliveryID]++
		}
	}
	for _, d := range all {
		if delivered[d.ID] != 1 {
			t.Errorf("delivery %d: got %d successful requests, want exactly 1", d.ID, delivered[d.ID])
		}
	}
	if len(hs) > before+2+len(all)+1 {
		t.Errorf("got %d requests in all, want at most %d (failures, 2 probes, deliveries, a straggler)", len(hs), before+3+len(all))
	}
}

// TestWorkerPauseHoldsQueuedClaims shows that the deliveries this worker had claimed before
// it paused their webhook are held too, not sent: none fails, none is lost.
func TestWorkerPauseHoldsQueuedClaims(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	rcv := newSwitchReceiver(t)
	rcv.delay = 100 * time.Millisecond // time for the recorder to judge each failure
	webhook := createWebhook(t, store, rcv.URL)
	ds := publish(t, store, 8) // all claimed at once: one in flight, seven waiting
	w := startWorker(t, store, delivery.Config{
		Concurrency: 16, PerWebhookInflight: 1, Schedule: []time.Duration{time.Hour},
		Health: delivery.HealthPolicy{DegradeAfter: 2, PauseAfter: 3, ProbeMin: time.Hour},
	}, delivery.SenderConfig{})

	waitHealth(t, store, webhook.ID, hookd.HealthPaused)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := states(t, store, ds)
		if got[hookd.DeliveryStateHeld] == len(ds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got states %v, want all %d held", got, len(ds))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(rcv.hits()); n < 3 || n > 6 {
		t.Errorf("got %d requests, want the 3 failures that paused and no more than a few sent meanwhile", n)
	}
	if strings.Contains(w.logs.String(), "probe failed") {
		t.Errorf("got a probe an hour before the first is due, want held-back claims held, not sent as probes:\n%s", w.logs)
	}
}

// TestWorkerRetryAfterPauses: a 503 with Retry-After: 60 pauses the webhook until then.
func TestWorkerRetryAfterPauses(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	webhook := createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1)
	start := time.Now()
	startWorker(t, store, delivery.Config{}, delivery.SenderConfig{})

	w := waitHealth(t, store, webhook.ID, hookd.HealthPaused)
	if w.HealthReason != "receiver answered 503 with Retry-After 1m0s" {
		t.Errorf("got reason %q, want the Retry-After", w.HealthReason)
	}
	if w.ProbeAt == nil || w.ProbeAt.Before(start.Add(59*time.Second)) || w.ProbeAt.After(time.Now().Add(61*time.Second)) {
		t.Errorf("got probe at %v, want about 60s from now", w.ProbeAt)
	}
	if got := states(t, store, ds)[hookd.DeliveryStateHeld]; got != 1 {
		t.Errorf("got the delivery not held, want it held until the probe")
	}
}

// TestWorkerHealthOff: with Health.Off a failing receiver is neither degraded nor paused,
// and its deliveries fail by their schedule as before.
func TestWorkerHealthOff(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	rcv := newSwitchReceiver(t)
	webhook := createWebhook(t, store, rcv.URL)
	ds := publish(t, store, 4)
	startWorker(t, store, delivery.Config{
		Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond},
		Health:   delivery.HealthPolicy{Off: true, DegradeAfter: 1, PauseAfter: 2},
	}, delivery.SenderConfig{})

	waitState(t, store, hookd.DeliveryStateFailed, ds...)
	w, err := store.WebhookGet(context.Background(), webhook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.State() != hookd.HealthHealthy || w.HealthSince != nil {
		t.Errorf("got %s since %v, want healthy, never changed", w.State(), w.HealthSince)
	}
	if got := len(rcv.hits()); got != 12 {
		t.Errorf("got %d requests, want 12 (4 deliveries, 3 attempts each)", got)
	}
}
