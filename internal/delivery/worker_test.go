package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

func TestWorkerDelivers(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	srv, seen := newReceiver(t, nil)
	createWebhook(t, store, srv.URL+"/hook")
	w := startWorker(t, store, delivery.Config{}, delivery.SenderConfig{})

	ds := publish(t, store, 3)
	w.Wake()
	got := waitState(t, store, hookd.DeliveryStateDelivered, ds...)

	for _, d := range got {
		if d.Status != 200 || d.Attempts != 1 || d.DeliveredOn == nil || d.LastError != "" {
			t.Errorf("delivery %d: got status %d attempts %d delivered on %v error %q, want 200, 1, set, none",
				d.ID, d.Status, d.Attempts, d.DeliveredOn, d.LastError)
		}
		as := attempts(t, store, d.ID)
		if len(as) != 1 || as[0].Status != 200 || string(as[0].ResponseBody) != "ok" {
			t.Errorf("delivery %d: got attempts %+v, want one answered 200 ok", d.ID, as)
		}
	}
	ids := map[int64]bool{}
	for range 3 {
		req := <-seen
		if got, want := req.header.Get(hookd.SignatureHeader), sign(testSecret, req.body); got != want {
			t.Errorf("got signature %q, want %q", got, want)
		}
		var body hookd.Body
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		ids[body.Event.ID] = true
	}
	for _, d := range ds {
		if !ids[d.ID] {
			t.Errorf("got event ids %v at the receiver, want delivery %d among them", ids, d.ID)
		}
	}
	if len(seen) != 0 {
		t.Errorf("got %d extra requests, want 3 in all", len(seen)+3)
	}
}

func TestWorkerRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var hits atomic.Int64
	srv, seen := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
	createWebhook(t, store, srv.URL)
	w := startWorker(t, store, delivery.Config{}, delivery.SenderConfig{})

	ds := publish(t, store, 1)
	w.Wake()
	d := waitState(t, store, hookd.DeliveryStateDelivered, ds...)[0]

	as := attempts(t, store, d.ID)
	wantStatus := []int{503, 503, 200}
	if len(as) != len(wantStatus) {
		t.Fatalf("got %d attempts, want %d", len(as), len(wantStatus))
	}
	for i, a := range as {
		if a.Number != i+1 || a.Status != wantStatus[i] {
			t.Errorf("attempt %d: got number %d status %d, want %d and %d", i, a.Number, a.Status, i+1, wantStatus[i])
		}
	}
	if as[0].Error != "receiver answered 503" || as[2].Error != "" {
		t.Errorf("got errors %q and %q, want %q and none", as[0].Error, as[2].Error, "receiver answered 503")
	}
	if gap := as[1].StartedAt.Sub(as[0].StartedAt); gap < 40*time.Millisecond {
		t.Errorf("got %s between attempts 1 and 2, want the 50ms schedule (less 10%% jitter)", gap)
	}
	if d.Attempts != 3 || d.Status != 200 {
		t.Errorf("got attempts %d status %d, want 3 and 200", d.Attempts, d.Status)
	}

	<-seen
	second := <-seen
	var body hookd.Body
	if err := json.Unmarshal(second.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Webhook.RetryCount != 1 || body.Webhook.LastFailureContent != "receiver answered 503" || body.Webhook.RetryOn == "" {
		t.Errorf("second attempt: got webhook %+v, want retryCount 1 after %q", body.Webhook, "receiver answered 503")
	}
	if got, want := second.header.Get(hookd.SignatureHeader), sign(testSecret, second.body); got != want {
		t.Errorf("second attempt: got signature %q, want %q over the retry body", got, want)
	}
}

func TestWorkerGivesUpAfterSchedule(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var hits atomic.Int64
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	webhook := createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1) // before the worker starts: its first claim finds it
	startWorker(t, store, delivery.Config{Schedule: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}}, delivery.SenderConfig{})

	d := waitState(t, store, hookd.DeliveryStateFailed, ds...)[0]
	if d.Attempts != 3 || d.Status != 500 || d.LastError != "receiver answered 500" {
		t.Errorf("got attempts %d status %d error %q, want 3, 500, %q", d.Attempts, d.Status, d.LastError, "receiver answered 500")
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("got %d requests, want 3 (first attempt and two retries)", n)
	}
	wh, err := store.WebhookGet(context.Background(), webhook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !wh.Enabled || wh.LastFailureOn == nil {
		t.Errorf("got enabled %v last failure %v, want still enabled with a failure recorded", wh.Enabled, wh.LastFailureOn)
	}
}

func TestWorkerGoneDisablesWebhook(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var hits atomic.Int64
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusGone)
	})
	webhook := createWebhook(t, store, srv.URL)
	w := startWorker(t, store, delivery.Config{}, delivery.SenderConfig{})

	ds := publish(t, store, 1)
	w.Wake()
	d := waitState(t, store, hookd.DeliveryStateFailed, ds...)[0]
	if d.Attempts != 1 || d.Status != 410 {
		t.Errorf("got attempts %d status %d, want 1 and 410 (no retry after Gone)", d.Attempts, d.Status)
	}
	wh, err := store.WebhookGet(context.Background(), webhook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wh.Enabled || wh.DisabledReason != "receiver answered 410 Gone" {
		t.Errorf("got enabled %v reason %q, want disabled with %q", wh.Enabled, wh.DisabledReason, "receiver answered 410 Gone")
	}
	if wh.State() != hookd.HealthDisabled || wh.HealthSince != nil {
		t.Errorf("got state %s (health %q since %v), want disabled, its health left alone", wh.State(), wh.Health, wh.HealthSince)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("got %d requests, want 1", n)
	}
}

func TestWorkerDisabledWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newTestStore(t)
	srv, seen := newReceiver(t, nil)
	webhook := createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1)
	if _, err := store.WebhookSetEnabled(ctx, webhook.ID, false, "someone", ""); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, store, delivery.Config{}, delivery.SenderConfig{})

	d := waitState(t, store, hookd.DeliveryStateFailed, ds...)[0]
	as := attempts(t, store, d.ID)
	if len(as) != 1 || as[0].Status != 0 || as[0].Error != "webhook is disabled" {
		t.Fatalf("got attempts %+v, want one with status 0 and %q", as, "webhook is disabled")
	}
	if len(seen) != 0 {
		t.Errorf("got %d requests to a disabled webhook, want 0", len(seen))
	}

	// A manual retry goes out all the same, as in DocSpace.
	retried, err := store.DeliveryRetry(ctx, &hookd.DeliveryRetryParams{IDs: []int64{d.ID}})
	if err != nil || len(retried) != 1 {
		t.Fatalf("retry: got %v, %v, want one new delivery", retried, err)
	}
	w.Wake()
	r := waitState(t, store, hookd.DeliveryStateDelivered, retried...)[0]
	if r.RetryOf != d.ID || r.Status != 200 {
		t.Errorf("got retry of %d status %d, want retry of %d delivered with 200", r.RetryOf, r.Status, d.ID)
	}
	req := <-seen
	var body hookd.Body
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event.ID != r.ID || body.Webhook.RetryCount != 0 {
		t.Errorf("got event id %d retry count %d, want the new delivery's id %d and no retry fields", body.Event.ID, body.Webhook.RetryCount, r.ID)
	}
}

func TestWorkerConcurrencyLimit(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	gate := make(chan struct{})
	var inFlight, peak atomic.Int64
	arrived := make(chan struct{}, 8)
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		arrived <- struct{}{}
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	})
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 6)
	startWorker(t, store, delivery.Config{Concurrency: 2}, delivery.SenderConfig{})

	<-arrived
	<-arrived
	close(gate)
	waitState(t, store, hookd.DeliveryStateDelivered, ds...)
	if p := peak.Load(); p != 2 {
		t.Errorf("got at most %d requests in flight, want 2 (the concurrency)", p)
	}
}

func TestWorkerShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 2)
	w := startWorker(t, store, delivery.Config{ShutdownGrace: 30 * time.Second}, delivery.SenderConfig{})
	<-arrived
	<-arrived

	w.cancel()
	select {
	case <-w.done:
		t.Fatal("Run returned while attempts were in flight")
	default:
	}
	close(release)
	w.Stop(t, 10*time.Second)
	for _, d := range waitState(t, store, hookd.DeliveryStateDelivered, ds...) {
		if d.Attempts != 1 || d.Status != 200 {
			t.Errorf("delivery %d: got attempts %d status %d, want 1 and 200", d.ID, d.Attempts, d.Status)
		}
	}
}

func TestWorkerShutdownGraceCancels(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	arrived := make(chan struct{}, 1)
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // hangs until the worker gives up on it
	})
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1)
	w := startWorker(t, store, delivery.Config{ShutdownGrace: 100 * time.Millisecond}, delivery.SenderConfig{})
	<-arrived

	start := time.Now()
	w.Stop(t, 10*time.Second)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("got Run returning after %s, want it to wait the 100ms grace", took)
	}
	d := waitState(t, store, hookd.DeliveryStateRetrying, ds...)[0]
	if d.Attempts != 1 || d.Status != 0 || !strings.Contains(d.LastError, "shutting down") {
		t.Errorf("got attempts %d status %d error %q, want 1, 0 and a shutdown cancellation", d.Attempts, d.Status, d.LastError)
	}
	if !d.NextAttemptAt.Before(time.Now()) {
		t.Errorf("got next attempt at %s, want it due at once", d.NextAttemptAt)
	}
}

// cancelOnClaim cancels the worker, as a shutdown arriving mid-claim, when a claim returns
// deliveries.
type cancelOnClaim struct {
	delivery.Store
	cancel atomic.Value // func()
}

func (s *cancelOnClaim) DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error) {
	cs, err := s.Store.DeliveryClaim(ctx, p)
	if cancel, ok := s.cancel.Load().(context.CancelFunc); ok && len(cs) > 0 {
		cancel()
	}
	return cs, err
}

func TestWorkerShutdownReleasesUnstarted(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	srv, seen := newReceiver(t, nil)
	createWebhook(t, store, srv.URL)
	wrapped := &cancelOnClaim{Store: store}
	w := startWorker(t, wrapped, delivery.Config{}, delivery.SenderConfig{})
	wrapped.cancel.Store(w.cancel)

	ds := publish(t, store, 3)
	w.Wake()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop after the claim cancelled it")
	}
	for _, d := range ds {
		g, err := store.DeliveryGet(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.State != hookd.DeliveryStatePending || g.Attempts != 0 || g.LeaseUntil != nil {
			t.Errorf("delivery %d: got state %s attempts %d lease %v, want pending, 0, none (released)",
				d.ID, g.State, g.Attempts, g.LeaseUntil)
		}
	}
	if len(seen) != 0 {
		t.Errorf("got %d requests, want none: claims not started at shutdown are not sent", len(seen))
	}
}

// flakyRecord fails AttemptRecord a number of times before passing calls on.
type flakyRecord struct {
	delivery.Store
	failures atomic.Int64
}

func (s *flakyRecord) AttemptRecord(ctx context.Context, rs []*hookd.AttemptResult) error {
	if s.failures.Add(-1) >= 0 {
		return errors.New("database is locked")
	}
	return s.Store.AttemptRecord(ctx, rs)
}

func TestWorkerRetriesFailedRecord(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	srv, _ := newReceiver(t, nil)
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 1)
	flaky := &flakyRecord{Store: store}
	flaky.failures.Store(2)
	w := startWorker(t, flaky, delivery.Config{}, delivery.SenderConfig{})

	d := waitState(t, store, hookd.DeliveryStateDelivered, ds...)[0]
	if as := attempts(t, store, d.ID); len(as) != 1 || as[0].Status != 200 {
		t.Errorf("got attempts %+v, want exactly one answered 200", as)
	}
	if got := strings.Count(w.logs.String(), "record attempts: will retry"); got != 2 {
		t.Errorf("got %d logged record failures, want 2:\n%s", got, w.logs)
	}
}
