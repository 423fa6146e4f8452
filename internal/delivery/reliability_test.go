package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// hangReceiver answers no request: each one stays open until the sender gives up on it. It
// counts the requests in flight and their peak.
type hangReceiver struct {
	*httptest.Server
	inFlight, peak, total atomic.Int64
}

func newHangReceiver(tb testing.TB) *hangReceiver {
	tb.Helper()
	h := &hangReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		h.total.Add(1)
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
		}
		<-r.Context().Done()
	}))
	tb.Cleanup(h.Close)
	return h
}

// waitInFlight polls until n requests are in flight at once, failing after 10 s.
func (h *hangReceiver) waitInFlight(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.inFlight.Load() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("got %d requests in flight at the hanging receiver, want %d", h.inFlight.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingReceiver answers 200 "ok" at once and counts the requests.
func countingReceiver(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	tb.Cleanup(srv.Close)
	return srv, &hits
}

// ofWebhook returns the deliveries of ds that go to webhook id.
func ofWebhook(ds []*hookd.Delivery, id int64) []*hookd.Delivery {
	var out []*hookd.Delivery
	for _, d := range ds {
		if d.WebhookID == id {
			out = append(out, d)
		}
	}
	return out
}

// TestWorkerPerWebhookCap shows that a receiver that never answers holds at most its cap of
// attempts, while a healthy receiver gets its deliveries at once, even with the dead
// receiver's backlog ahead of them in the due order.
func TestWorkerPerWebhookCap(t *testing.T) {
	t.Parallel()
	const limit = 2
	store := newTestStore(t)
	hang := newHangReceiver(t)
	dead := createWebhook(t, store, hang.URL)
	backlog := publish(t, store, 40) // the dead receiver's backlog, due first
	timeout := 20 * time.Second
	w := startWorker(t, store, delivery.Config{
		Concurrency: 8, PerWebhookInflight: limit, ShutdownGrace: 100 * time.Millisecond,
		Schedule: []time.Duration{time.Hour},
	}, delivery.SenderConfig{Timeout: timeout})
	hang.waitInFlight(t, limit)

	okSrv, hits := countingReceiver(t)
	healthy := createWebhook(t, store, okSrv.URL)
	start := time.Now()
	ds := publish(t, store, 40) // one delivery per webhook and event, interleaved
	w.Wake()
	waitState(t, store, hookd.DeliveryStateDelivered, ofWebhook(ds, healthy.ID)...)
	took := time.Since(start)
	t.Logf("the healthy receiver's 40 deliveries took %s", took)

	if took > timeout/2 {
		t.Errorf("got the healthy receiver's 40 deliveries in %s, want them well within the %s attempt timeout that holds the dead receiver", took, timeout)
	}
	if got := hits.Load(); got != 40 {
		t.Errorf("got %d requests at the healthy receiver, want 40", got)
	}
	if got := hang.peak.Load(); got != limit {
		t.Errorf("got a peak of %d requests in flight at the dead receiver, want its cap %d", got, limit)
	}
	if got := hang.total.Load(); got != limit {
		t.Errorf("got %d requests at the dead receiver before any timed out, want %d", got, limit)
	}
	for _, d := range append(backlog, ofWebhook(ds, dead.ID)...) {
		if g, _ := store.DeliveryGet(context.Background(), d.ID); g.Attempts != 0 {
			t.Errorf("delivery %d: got %d attempts, want none recorded yet (parked deliveries count none)", d.ID, g.Attempts)
		}
	}
}

// TestWorkerParkedDeliveriesComeBack shows that deliveries parked behind a stalled receiver
// are sent once their lease ends, without an attempt counted for the wait.
func TestWorkerParkedDeliveriesComeBack(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) <= 2 {
			<-r.Context().Done() // the first two requests hang until the attempt timeout
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 6)
	w := startWorker(t, store, delivery.Config{
		Concurrency: 4, PerWebhookInflight: 2, Lease: 2 * time.Second,
		Schedule: []time.Duration{10 * time.Millisecond},
	}, delivery.SenderConfig{Timeout: time.Second})

	got := waitState(t, store, hookd.DeliveryStateDelivered, ds...)
	if !strings.Contains(w.logs.String(), "webhook stalled") {
		t.Errorf("got no stall in the logs, want the waiting deliveries parked:\n%s", w.logs)
	}
	var retried int
	for _, d := range got {
		switch d.Attempts {
		case 1:
		case 2:
			retried++
			if as := attempts(t, store, d.ID); as[0].Error != "timeout after 1s" {
				t.Errorf("delivery %d: got first attempt error %q, want a timeout", d.ID, as[0].Error)
			}
		default:
			t.Errorf("delivery %d: got %d attempts, want 1, or 2 for a hung one", d.ID, d.Attempts)
		}
	}
	if retried != 2 {
		t.Errorf("got %d deliveries tried twice, want the 2 that hung", retried)
	}
}

// TestWorkerStallRecovers shows that a receiver stalled for a moment gets its parked
// deliveries back as soon as it answers again, not when their leases end.
func TestWorkerStallRecovers(t *testing.T) {
	t.Parallel()
	store := newTestStore(t)
	gate := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) <= 2 {
			select { // the first two requests wait until the test has seen the stall
			case <-gate:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	createWebhook(t, store, srv.URL)
	ds := publish(t, store, 8)
	start := time.Now()
	w := startWorker(t, store, delivery.Config{Concurrency: 4, PerWebhookInflight: 2}, delivery.SenderConfig{Timeout: 10 * time.Second})

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.logs.String(), "webhook stalled") {
		if time.Now().After(deadline) {
			t.Fatalf("got no stall within 10s, want the waiting deliveries parked:\n%s", w.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	for _, d := range waitState(t, store, hookd.DeliveryStateDelivered, ds...) {
		if d.Attempts != 1 {
			t.Errorf("delivery %d: got %d attempts, want 1", d.ID, d.Attempts)
		}
	}
	if took, lease := time.Since(start), 40*time.Second; took > lease/3 {
		t.Errorf("got every delivery after %s, want them back long before their %s lease ends", took, lease)
	}
}

// misbehaving is a receiver that does one thing wrong, and what the attempt should record.
type misbehaving struct {
	name       string
	start      func(t *testing.T) (uri string, ssl bool, hits *atomic.Int64)
	wantState  hookd.DeliveryState
	wantStatus int
	wantError  string // part of the attempt's error; "" means none
	wantBody   string // the stored answer body, when checked
	maxBody    int
	slow       bool // the attempt is cut by the attempt timeout
	noHits     bool // the receiver's counter (TLS handler, redirect target) must stay at 0
}

func TestWorkerMisbehavingReceivers(t *testing.T) {
	t.Parallel()
	const maxBody = 4096
	tests := []misbehaving{
		{name: "HangsBeforeHeaders", start: handlerReceiver(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}), wantState: hookd.DeliveryStateRetrying, wantError: "timeout after 1s", slow: true},
		{name: "BodyNeverEnds", start: handlerReceiver(endlessBody(http.StatusOK)),
			wantState: hookd.DeliveryStateDelivered, wantStatus: 200, wantBody: "partial", slow: true},
		{name: "ErrorBodyNeverEnds", start: handlerReceiver(endlessBody(http.StatusServiceUnavailable)),
			wantState: hookd.DeliveryStateRetrying, wantStatus: 503, wantBody: "partial",
			wantError: "receiver answered 503; answer body incomplete: timeout after 1s", slow: true},
		{name: "TenMegabyteAnswer", start: handlerReceiver(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 160 { // 10 MiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}), wantState: hookd.DeliveryStateDelivered, wantStatus: 200, maxBody: maxBody},
		{name: "SlowDrip", start: dripReceiver, wantState: hookd.DeliveryStateRetrying,
			wantError: "timeout after 1s", slow: true},
		{name: "ResetConnection", start: handlerReceiver(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			conn.(*net.TCPConn).SetLinger(0) // close with RST
			conn.Close()
		}), wantState: hookd.DeliveryStateRetrying, wantError: "connection reset by receiver"},
		{name: "Redirect", start: redirectReceiver, wantState: hookd.DeliveryStateRetrying,
			wantStatus: 302, wantError: "receiver answered 302; redirects are not followed", noHits: true},
		{name: "UnverifiedCertificateWithSSL", start: tlsReceiver, wantState: hookd.DeliveryStateRetrying,
			wantError: "TLS certificate verification failed", noHits: true},
		{name: "DNSFails", start: func(t *testing.T) (string, bool, *atomic.Int64) {
			return "http://nx.test:8080/hook", false, &atomic.Int64{}
		}, wantState: hookd.DeliveryStateRetrying, wantError: `DNS resolution failed for "nx.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testMisbehaving(t, tt, maxBody)
		})
	}
}

func testMisbehaving(t *testing.T, tt misbehaving, maxBody int) {
	store := newTestStore(t)
	uri, ssl, badHits := tt.start(t)
	bad, err := store.WebhookCreate(context.Background(), &hookd.Webhook{
		Name: "misbehaving", URI: uri, SSL: ssl, Secret: testSecret, Enabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	okSrv, okHits := countingReceiver(t)
	healthy := createWebhook(t, store, okSrv.URL)
	resolver, _ := newFakeResolver(t, nil) // knows no name: every lookup fails
	sender := delivery.NewSender(delivery.NewGuard(loopback, resolver), delivery.SenderConfig{
		Timeout: time.Second, MaxResponseBytes: int64(maxBody),
	})
	t.Cleanup(sender.Close)
	ds := publish(t, store, 3)
	startWorkerWith(t, store, delivery.Config{
		Concurrency: 4, PerWebhookInflight: 2, Lease: 2 * time.Second, ShutdownGrace: 100 * time.Millisecond,
		Schedule: []time.Duration{time.Hour},
	}, sender)

	waitState(t, store, hookd.DeliveryStateDelivered, ofWebhook(ds, healthy.ID)...)
	if got := okHits.Load(); got != 3 {
		t.Errorf("got %d requests at the healthy receiver, want 3", got)
	}
	for _, d := range waitState(t, store, tt.wantState, ofWebhook(ds, bad.ID)...) {
		as := attempts(t, store, d.ID)
		if len(as) != 1 {
			t.Fatalf("delivery %d: got %d attempts, want 1", d.ID, len(as))
		}
		a := as[0]
		if a.Status != tt.wantStatus || !strings.Contains(a.Error, tt.wantError) || (tt.wantError == "" && a.Error != "") {
			t.Errorf("delivery %d: got status %d error %q, want %d and %q", d.ID, a.Status, a.Error, tt.wantStatus, tt.wantError)
		}
		if d.LastError != a.Error {
			t.Errorf("delivery %d: got last error %q, want the attempt's %q", d.ID, d.LastError, a.Error)
		}
		if tt.wantBody != "" && string(a.ResponseBody) != tt.wantBody {
			t.Errorf("delivery %d: got answer body %q, want %q", d.ID, a.ResponseBody, tt.wantBody)
		}
		if tt.maxBody > 0 && len(a.ResponseBody) != tt.maxBody {
			t.Errorf("delivery %d: got %d answer bytes stored, want the cap %d", d.ID, len(a.ResponseBody), tt.maxBody)
		}
		if tt.slow && (a.Duration < 900*time.Millisecond || a.Duration > 5*time.Second) {
			t.Errorf("delivery %d: got duration %s, want the attempt cut at the 1s timeout", d.ID, a.Duration)
		}
		if !tt.slow && a.Duration > 900*time.Millisecond {
			t.Errorf("delivery %d: got duration %s, want the attempt over well before the timeout", d.ID, a.Duration)
		}
		if strings.Contains(a.Error, testSecret) || strings.Contains(a.Error, "sha256=") {
			t.Errorf("delivery %d: error %q shows the secret or the signature", d.ID, a.Error)
		}
	}
	if tt.noHits && badHits.Load() != 0 {
		t.Errorf("got %d requests past the refusal (unverified certificate, redirect target), want 0", badHits.Load())
	}
}

// handlerReceiver starts an HTTP receiver that reads each request and then runs h.
func handlerReceiver(h http.HandlerFunc) func(t *testing.T) (string, bool, *atomic.Int64) {
	return func(t *testing.T) (string, bool, *atomic.Int64) {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			hits.Add(1)
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL, false, &hits
	}
}

// endlessBody answers status and the start of a body that never ends.
func endlessBody(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

// dripReceiver is a raw TCP receiver that reads the request, then sends its status line one
// byte every 50 ms, never reaching the end of the headers in time.
func dripReceiver(t *testing.T) (string, bool, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	var hits atomic.Int64
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				hits.Add(1)
				for _, b := range []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Drip: " + strings.Repeat("z", 200)) {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write([]byte{b}); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String() + "/hook", false, &hits
}

// redirectReceiver redirects every request to a target that counts what reaches it.
func redirectReceiver(t *testing.T) (string, bool, *atomic.Int64) {
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { targetHits.Add(1) }))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, false, &targetHits
}

// tlsReceiver is an HTTPS receiver whose certificate no system root signed, used with ssl on.
func tlsReceiver(t *testing.T) (string, bool, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	srv.Config.ErrorLog = nil
	t.Cleanup(srv.Close)
	return srv.URL, true, &hits
}

// TestSendRefusedAtDialTime shows that every spelling of an internal address, and names that
// resolve to one, are refused when the sender dials, so that no connection is made, unless
// the allow-list holds the address.
func TestSendRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolver, _ := newFakeResolver(t, map[string][]netip.Addr{
		"rebind.test": {netip.MustParseAddr("127.0.0.1")},
		"mapped.test": {netip.MustParseAddr("::ffff:127.0.0.1")},
	})
	strict := delivery.NewSender(delivery.NewGuard(nil, resolver), delivery.SenderConfig{Timeout: 2 * time.Second})
	t.Cleanup(strict.Close)
	for _, host := range []string{
		"127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]",
		"[::1]", "localhost", "rebind.test", "mapped.test", "10.0.0.1", "169.254.169.254", "[fe80::1]",
	} {
		att := strict.Send(context.Background(), newTestClaim("http://"+net.JoinHostPort(strings.Trim(host, "[]"), port)+"/hook", false), time.Now())
		if att.Status != 0 || !strings.Contains(att.Error, "HOOKD_ALLOWED_NETWORKS") {
			t.Errorf("%s: got status %d error %q, want a refusal naming HOOKD_ALLOWED_NETWORKS", host, att.Status, att.Error)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("got %d connections at the loopback receiver, want none", n)
	}

	open := delivery.NewSender(delivery.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, resolver), delivery.SenderConfig{Timeout: 2 * time.Second})
	t.Cleanup(open.Close)
	for _, host := range []string{"2130706433", "0177.0.0.1", "rebind.test"} {
		att := open.Send(context.Background(), newTestClaim("http://"+net.JoinHostPort(host, port)+"/hook", false), time.Now())
		if att.Status != 200 {
			t.Errorf("%s with 127.0.0.0/8 allowed: got status %d error %q, want 200", host, att.Status, att.Error)
		}
	}
}
