package delivery_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

const testSecret = "s3cret-webhook-key"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// newTestSender returns a sender that may reach loopback receivers, closed with the test.
func newTestSender(tb testing.TB, cfg delivery.SenderConfig) *delivery.Sender {
	tb.Helper()
	s := delivery.NewSender(delivery.NewGuard(loopback, nil), cfg)
	tb.Cleanup(s.Close)
	return s
}

// newTestClaim returns a claim of a first attempt of delivery 4711 to uri.
func newTestClaim(uri string, ssl bool) *hookd.Claim {
	created := time.Date(2026, 6, 30, 10, 13, 11, 0, time.UTC)
	ev := &hookd.Event{
		ID: 7, Trigger: 1 << 7, Payload: json.RawMessage(`{"id":42,"title":"Report.docx"}`),
		CreatedBy: "0b8c0000-0000-4000-8000-000000000001", CreatedOn: created,
	}
	return &hookd.Claim{
		Delivery: &hookd.Delivery{ID: 4711, WebhookID: 5, EventID: 7, Trigger: ev.Trigger, Event: ev,
			State: hookd.DeliveryStateInflight, CreatedOn: created, NextAttemptAt: created},
		Webhook: &hookd.Webhook{ID: 5, Name: "CRM sync", URI: uri, Secret: testSecret, SSL: ssl,
			Enabled: true, Triggers: 1<<7 | 1<<8},
		Token: 1,
	}
}

// capture is one request a test receiver saw.
type capture struct {
	method string
	header http.Header
	body   []byte
}

// newReceiver starts a receiver that records each request on the returned channel and
// answers with handle (200 "ok" when nil).
func newReceiver(tb testing.TB, handle http.HandlerFunc) (*httptest.Server, <-chan capture) {
	tb.Helper()
	seen := make(chan capture, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- capture{r.Method, r.Header.Clone(), body}
		if handle == nil {
			io.WriteString(w, "ok")
			return
		}
		handle(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv, seen
}

// sign is the receiver's side of the signature, written independently of hookd.Sign.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

func TestSendSignedRequest(t *testing.T) {
	t.Parallel()
	srv, seen := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "crm")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"received":true}`)
	})
	s := newTestSender(t, delivery.SenderConfig{})
	now := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	att := s.Send(context.Background(), newTestClaim(srv.URL+"/hook", false), now)

	req := <-seen
	if req.method != http.MethodPost {
		t.Errorf("got method %s, want POST", req.method)
	}
	if got, want := req.header.Get("X-Docspace-Signature-256"), sign(testSecret, req.body); got != want {
		t.Errorf("got signature %q, want %q", got, want)
	}
	for name, want := range map[string]string{
		"Accept":       "*/*",
		"Content-Type": "application/json; charset=utf-8",
		"User-Agent":   "hookd/" + delivery.Version,
	} {
		if got := req.header.Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
	var body hookd.Body
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("decode body %s: %v", req.body, err)
	}
	if body.Event.ID != 4711 || body.Event.Trigger != "file.created" || body.Webhook.ID != 5 {
		t.Errorf("got event %+v webhook %+v, want event 4711 file.created of webhook 5", body.Event, body.Webhook)
	}
	if body.Webhook.RetryCount != 0 || body.Webhook.LastFailureOn != "" {
		t.Errorf("got retry fields %+v on a first attempt, want none", body.Webhook)
	}
	if string(body.Payload) != `{"id":42,"title":"Report.docx"}` {
		t.Errorf("got payload %s, want the event's", body.Payload)
	}

	if att.Status != http.StatusAccepted || att.Error != "" {
		t.Errorf("got status %d error %q, want 202 and no error", att.Status, att.Error)
	}
	if att.DeliveryID != 4711 || att.Number != 1 || !att.StartedAt.Equal(now) || att.Duration <= 0 {
		t.Errorf("got delivery %d number %d started %s duration %s, want 4711, 1, %s, > 0",
			att.DeliveryID, att.Number, att.StartedAt, att.Duration, now)
	}
	if !bytes.Equal(att.RequestBody, req.body) {
		t.Errorf("got recorded body %s, want the sent %s", att.RequestBody, req.body)
	}
	h := http.Header(att.RequestHeaders)
	if got := h.Get(hookd.SignatureHeader); got != sign(testSecret, req.body) {
		t.Errorf("got recorded signature %q, want the sent one", got)
	}
	if h.Get("Content-Type") != "" || h.Get("Content-Length") != "" || h.Get("Accept") != "*/*" {
		t.Errorf("got recorded request headers %v, want Accept and no content headers", h)
	}
	if got := http.Header(att.ResponseHeaders).Get("X-Receiver"); got != "crm" {
		t.Errorf("got response header X-Receiver %q, want %q", got, "crm")
	}
	if got := string(att.ResponseBody); got != `{"received":true}` {
		t.Errorf("got response body %q, want the receiver's", got)
	}
}

func TestSendRetryFields(t *testing.T) {
	t.Parallel()
	srv, seen := newReceiver(t, nil)
	s := newTestSender(t, delivery.SenderConfig{})
	c := newTestClaim(srv.URL, false)
	failedOn := time.Date(2026, 7, 1, 8, 0, 5, 0, time.UTC)
	success := time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	c.Delivery.Attempts, c.Delivery.DeliveredOn, c.Delivery.LastError, c.Delivery.Status = 2, &failedOn, "receiver answered 503", 503
	c.Webhook.LastSuccessOn = &success
	now := failedOn.Add(5 * time.Minute)

	att := s.Send(context.Background(), c, now)
	if att.Number != 3 || att.Status != 200 {
		t.Errorf("got attempt %d status %d, want attempt 3 status 200", att.Number, att.Status)
	}
	var body hookd.Body
	if err := json.Unmarshal((<-seen).body, &body); err != nil {
		t.Fatal(err)
	}
	want := hookd.BodyWebhook{
		ID: 5, Name: "CRM sync", URL: srv.URL, Triggers: []string{"file.created", "file.uploaded"},
		RetryCount: 2, RetryOn: "2026-07-01T08:05:05Z", LastFailureOn: "2026-07-01T08:00:05Z",
		LastFailureContent: "receiver answered 503", LastSuccessOn: "2026-06-29T00:00:00Z",
	}
	if got := body.Webhook; got.RetryCount != want.RetryCount || got.RetryOn != want.RetryOn ||
		got.LastFailureOn != want.LastFailureOn || got.LastFailureContent != want.LastFailureContent ||
		got.LastSuccessOn != want.LastSuccessOn || got.URL != want.URL {
		t.Errorf("got webhook %+v, want %+v", got, want)
	}
}

func TestSendAnswers(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int64
	target, _ := newReceiver(t, func(http.ResponseWriter, *http.Request) { targetHits.Add(1) })

	tests := []struct {
		name       string
		handle     http.HandlerFunc
		wantStatus int
		wantError  string
		wantBody   string
	}{
		{"ServerError", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}, 503, "receiver answered 503", "down for maintenance\n"},
		{"Gone", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGone)
		}, 410, "receiver answered 410", ""},
		{"RedirectNotFollowed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
		}, 302, "receiver answered 302; redirects are not followed", ""},
		{"PermanentRedirectNotFollowed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusPermanentRedirect)
		}, 308, "receiver answered 308", ""},
		{"NoContent", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, 204, "", ""},
	}
	s := newTestSender(t, delivery.SenderConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := newReceiver(t, tt.handle)
			att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
			<-seen
			if att.Status != tt.wantStatus || !strings.Contains(att.Error, tt.wantError) || (tt.wantError == "" && att.Error != "") {
				t.Errorf("got status %d error %q, want %d and %q", att.Status, att.Error, tt.wantStatus, tt.wantError)
			}
			if tt.wantBody != "" && string(att.ResponseBody) != tt.wantBody {
				t.Errorf("got response body %q, want %q", att.ResponseBody, tt.wantBody)
			}
		})
	}
	t.Cleanup(func() {
		if n := targetHits.Load(); n != 0 {
			t.Errorf("got %d requests to the redirect target, want 0", n)
		}
	})
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, seen := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close, which waits for the handler
	s := newTestSender(t, delivery.SenderConfig{Timeout: 100 * time.Millisecond})

	att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
	<-seen
	if att.Status != 0 || att.Error != "timeout after 100ms" {
		t.Errorf("got status %d error %q, want 0 and %q", att.Status, att.Error, "timeout after 100ms")
	}
	if att.Duration < 100*time.Millisecond || att.Duration > 5*time.Second {
		t.Errorf("got duration %s, want about 100ms", att.Duration)
	}
}

func TestSendSlowBodyKeepsStatus(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	s := newTestSender(t, delivery.SenderConfig{Timeout: 200 * time.Millisecond})

	att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
	if att.Status != 200 || att.Error != "" || string(att.ResponseBody) != "partial" {
		t.Errorf("got status %d error %q body %q, want 200, no error, %q", att.Status, att.Error, att.ResponseBody, "partial")
	}
	if att.Duration > 5*time.Second {
		t.Errorf("got duration %s, want the attempt cut at its timeout", att.Duration)
	}
}

func TestSendClosedConnection(t *testing.T) {
	t.Parallel()
	srv, seen := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	})
	s := newTestSender(t, delivery.SenderConfig{})
	att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
	<-seen
	if att.Status != 0 || !strings.Contains(att.Error, "connection closed by receiver") {
		t.Errorf("got status %d error %q, want 0 and a closed connection", att.Status, att.Error)
	}
}

func TestSendLargeAnswerCapped(t *testing.T) {
	t.Parallel()
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	srv, _ := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		for range 10 << 20 / len(chunk) { // 10 MiB, far past the cap and the drain
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	s := newTestSender(t, delivery.SenderConfig{MaxResponseBytes: 1000, Timeout: 10 * time.Second})
	att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
	if att.Status != 200 || len(att.ResponseBody) != 1000 {
		t.Errorf("got status %d and %d body bytes, want 200 and 1000", att.Status, len(att.ResponseBody))
	}
	if att.Duration > 5*time.Second {
		t.Errorf("got duration %s, want the rest of the answer dropped, not waited for", att.Duration)
	}
}

func TestSendReusesConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newTestSender(t, delivery.SenderConfig{})
	for i := range 3 {
		if att := s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now()); att.Status != 200 {
			t.Fatalf("send %d: got status %d error %q, want 200", i, att.Status, att.Error)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("got %d connections for 3 sequential sends, want 1", got)
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	s := newTestSender(t, delivery.SenderConfig{})

	att := s.Send(context.Background(), newTestClaim(srv.URL, true), time.Now())
	if att.Status != 0 || !strings.Contains(att.Error, "TLS certificate verification failed") {
		t.Errorf("ssl=true: got status %d error %q, want 0 and a certificate failure", att.Status, att.Error)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("ssl=true: got %d requests through an unverified certificate, want 0", n)
	}
	att = s.Send(context.Background(), newTestClaim(srv.URL, false), time.Now())
	if att.Status != 200 || att.Error != "" {
		t.Errorf("ssl=false: got status %d error %q, want 200 (any certificate accepted)", att.Status, att.Error)
	}
}

func TestSendRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	srv, seen := newReceiver(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	strict := delivery.NewSender(delivery.NewGuard(nil, nil), delivery.SenderConfig{})
	t.Cleanup(strict.Close)
	open := newTestSender(t, delivery.SenderConfig{})

	tests := []struct {
		name   string
		sender *delivery.Sender
		uri    string
		ssl    bool
		want   string
	}{
		{"PrivateAddress", strict, srv.URL, false, "URL host is a loopback address (127.0.0.1); set HOOKD_ALLOWED_NETWORKS to allow it"},
		{"PrivateName", strict, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), false, "URL host resolves to a loopback address ("},
		{"HTTPWithSSL", open, srv.URL, true, "HTTPS is required"},
		{"Scheme", open, "ftp://example.com/", false, `Invalid URL scheme "ftp"`},
		{"ConnectionRefused", open, closedURL, false, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			att := tt.sender.Send(context.Background(), newTestClaim(tt.uri, tt.ssl), time.Now())
			if att.Status != 0 || !strings.Contains(att.Error, tt.want) {
				t.Errorf("got status %d error %q, want 0 and %q", att.Status, att.Error, tt.want)
			}
			if strings.Contains(att.Error, testSecret) {
				t.Errorf("error %q shows the secret", att.Error)
			}
		})
	}
	t.Cleanup(func() {
		if len(seen) != 0 {
			t.Errorf("got %d requests at the receiver, want 0", len(seen))
		}
	})
}

func TestProbe(t *testing.T) {
	t.Parallel()
	var methods atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods.Store(r.Method)
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(srv.Close)
	s := newTestSender(t, delivery.SenderConfig{})
	if err := s.Probe(context.Background(), srv.URL+"/ok", false); err != nil {
		t.Errorf("probe /ok: got %v, want nil", err)
	}
	if got := methods.Load(); got != http.MethodHead {
		t.Errorf("got method %v, want HEAD", got)
	}
	for path, want := range map[string]string{"/moved": "301", "/post-only": "405"} {
		err := s.Probe(context.Background(), srv.URL+path, false)
		if hookd.ErrorCode(err) != hookd.EINVALID || !strings.Contains(hookd.ErrorMessage(err), want) {
			t.Errorf("probe %s: got %v, want an EINVALID error naming %s", path, err, want)
		}
	}
}
