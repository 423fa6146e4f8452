package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// standardSignatures returns the v1 entries of a webhook-signature header.
func standardSignatures(h http.Header) []string {
	var out []string
	for _, e := range strings.Split(h.Get("webhook-signature"), " ") {
		if strings.HasPrefix(e, "v1,") {
			out = append(out, e)
		}
	}
	return out
}

// verifyStandard is a receiver's check of a Standard Webhooks delivery, written from the
// specification (standardwebhooks.com), not from hookd's code: the key is the base64 part of a
// whsec_ secret (other secrets are used as their bytes, as hookd documents), the signed content
// is id "." timestamp "." body, each "v1," entry is a base64 HMAC-SHA256, the timestamp must
// be within five minutes of now, and comparisons are constant-time.
func verifyStandard(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" || h.Get("webhook-signature") == "" {
		return errors.New("a Standard Webhooks header is missing")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s away from now", ts, d)
	}
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			return fmt.Errorf("whsec_ secret is not base64: %w", err)
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, e := range standardSignatures(h) {
		got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e, "v1,"))
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

// newWhsec returns a random secret in the Standard Webhooks form.
func newWhsec(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// offsetClock is the server's clock: real time, moved forward by hand to end a rotation.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// arrivals remembers, by receiver and request number, the server clock's time at receipt:
// the "now" of the receivers' timestamp check.
type arrivals struct {
	clock *offsetClock
	mu    sync.Mutex
	at    map[string]map[int]time.Time
}

func (a *arrivals) mark(name string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at[name] == nil {
		a.at[name] = map[int]time.Time{}
	}
	a.at[name][n] = a.clock.Now()
}

func (a *arrivals) of(name string, n int) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at[name][n]
}

// eventID reads event.id (the delivery id) of a delivered body.
func eventID(t testing.TB, body []byte) int64 {
	t.Helper()
	var b struct {
		Event struct{ ID int64 } `json:"event"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return b.Event.ID
}

// TestStandardSigning is the end-to-end proof of Standard Webhooks signing and secret
// rotation: receivers that fail and recover, answer 429 with Retry-After, or hang past the
// timeout see the headers on every attempt, one webhook-id per delivery, signatures that an
// independent verifier accepts; the delivery log shows the same; during a rotation both
// secrets verify, after it only the new one is used; no secret reaches the server's log.
func TestStandardSigning(t *testing.T) {
	forEachBackend(t, testStandardSigning)
}

// signingReceiver is one receiver of the test with its webhook's secret.
type signingReceiver struct {
	name   string
	secret string
	rc     *receiver
	hook   webhookDTO
	hits   int // attempts of its one delivery: failures, then the success
}

func testStandardSigning(t *testing.T, db string) {
	clock := &offsetClock{}
	logs := &lockedBuffer{}
	env := servertest.Start(t, func(c *server.Config) {
		c.DB = db
		c.Clock = clock
		c.AttemptTimeout = 300 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	arr := &arrivals{clock: clock, at: map[string]map[int]time.Time{}}

	respond := func(name string, failures int, fail func(w http.ResponseWriter, r *http.Request)) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			arr.mark(name, n)
			if n <= failures {
				fail(w, r)
			}
		}
	}
	recv := []*signingReceiver{
		{name: "flaky", secret: "plain-flaky-secret", hits: 3, rc: newReceiver(t, respond("flaky", 2, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}))},
		{name: "limited", secret: newWhsec(t), hits: 2, rc: newReceiver(t, respond("limited", 1, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}))},
		{name: "slow", secret: newWhsec(t), hits: 2, rc: newReceiver(t, respond("slow", 1, func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // hang until hookd gives up on the attempt
		}))},
	}
	for _, s := range recv {
		api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
			"name": s.name, "uri": s.rc.URL, "secretKey": s.secret, "enabled": true, "triggers": 128, "standardSigning": true,
		}, &s.hook)
	}
	plain := newReceiver(t, nil)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
		"name": "docspace-only", "uri": plain.URL, "secretKey": "docspace-only-secret", "enabled": true, "triggers": 128,
	}, nil)

	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": 1}}, nil)
	servertest.Eventually(t, 15*time.Second, "every receiver recovers and gets its delivery", func() bool {
		for _, s := range recv {
			if len(s.rc.Hits()) < s.hits {
				return false
			}
		}
		return len(plain.Hits()) == 1
	})

	for _, s := range recv {
		checkStandardAttempts(t, api, arr, s)
	}
	if h := plain.Hits()[0].Header; h.Get("webhook-id") != "" || h.Get("webhook-signature") != "" || h.Get("webhook-timestamp") != "" {
		t.Errorf("webhook without standardSigning got Standard Webhooks headers: %v", h)
	}

	// A manual retry is a new delivery: a new webhook-id, signed the same way.
	flaky := recv[0]
	first := eventID(t, flaky.rc.Hits()[0].Body)
	var retried logDTO
	api.ok(200, "PUT", fmt.Sprintf("/api/2.0/settings/webhook/%d/retry", first), nil, &retried)
	servertest.Eventually(t, 10*time.Second, "the manual retry arrives", func() bool { return len(flaky.rc.Hits()) == 4 })
	h := flaky.rc.Hits()[3]
	if got, want := h.Header.Get("webhook-id"), fmt.Sprintf("msg_%d", retried.ID); got != want || retried.ID == first {
		t.Errorf("manual retry: got webhook-id %q, want %q (a new delivery)", got, want)
	}
	if err := verifyStandard(flaky.secret, h.Header, h.Body, arr.of("flaky", 4)); err != nil {
		t.Errorf("manual retry: %v", err)
	}

	rotationSecrets := testRotation(t, api, clock, arr)

	out := logs.String()
	for _, secret := range rotationSecrets {
		if strings.Contains(out, secret) {
			t.Errorf("the server log contains a secret of the rotation")
		}
	}
	if !strings.Contains(out, "webhook secret rotated") {
		t.Errorf("the server log does not record the rotation")
	}
	for _, s := range recv {
		if strings.Contains(out, s.secret) {
			t.Errorf("the server log contains the secret of %s", s.name)
		}
		for _, hit := range s.rc.Hits() {
			for _, sig := range standardSignatures(hit.Header) {
				if strings.Contains(out, strings.TrimPrefix(sig, "v1,")) {
					t.Errorf("the server log contains a signature sent to %s", s.name)
				}
			}
		}
	}
}

// checkStandardAttempts checks every attempt s's receiver got, and the log's view of them.
func checkStandardAttempts(t *testing.T, api *apiClient, arr *arrivals, s *signingReceiver) {
	t.Helper()
	hits := s.rc.Hits()
	if len(hits) != s.hits {
		t.Fatalf("%s: got %d requests, want %d", s.name, len(hits), s.hits)
	}
	id := eventID(t, hits[0].Body)
	wantID := fmt.Sprintf("msg_%d", id)
	for i, h := range hits {
		if got := h.Header.Get("webhook-id"); got != wantID || eventID(t, h.Body) != id {
			t.Errorf("%s attempt %d: got webhook-id %q for event.id %d, want %q on every attempt", s.name, i+1, got, eventID(t, h.Body), wantID)
		}
		if err := verifyStandard(s.secret, h.Header, h.Body, arr.of(s.name, i+1)); err != nil {
			t.Errorf("%s attempt %d: %v", s.name, i+1, err)
		}
		if n := len(standardSignatures(h.Header)); n != 1 {
			t.Errorf("%s attempt %d: got %d signatures, want 1 outside a rotation", s.name, i+1, n)
		}
		if err := verifySignature(s.secret, h.Body, h.Signature); err != nil {
			t.Errorf("%s attempt %d: DocSpace signature: %v", s.name, i+1, err)
		}
		if h.Header.Get("x-hookd-signature-256-previous") != "" {
			t.Errorf("%s attempt %d: a previous-secret signature outside a rotation", s.name, i+1)
		}
	}

	servertest.Eventually(t, 10*time.Second, s.name+" delivery recorded as delivered", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?eventId=%d", id), nil, &rows)
		return len(rows) == 1 && rows[0].State == "delivered"
	})
	var rows []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?eventId=%d", id), nil, &rows)
	var logged map[string][]string
	if err := json.Unmarshal([]byte(rows[0].RequestHeaders), &logged); err != nil {
		t.Fatalf("%s: requestHeaders %q: %v", s.name, rows[0].RequestHeaders, err)
	}
	last := hits[len(hits)-1]
	if lh := http.Header(logged); lh.Get("webhook-id") != wantID || lh.Get("webhook-signature") != last.Header.Get("webhook-signature") ||
		lh.Get("webhook-timestamp") != last.Header.Get("webhook-timestamp") {
		t.Errorf("%s: the log shows headers %v, want those of the last attempt", s.name, logged)
	}

	var attempts []struct {
		Status          int                 `json:"status"`
		Error           string              `json:"error"`
		RequestHeaders  map[string][]string `json:"requestHeaders"`
		ResponseHeaders map[string][]string `json:"responseHeaders"`
	}
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/webhooks/deliveries/%d/attempts", id), nil, &attempts)
	if len(attempts) != s.hits {
		t.Fatalf("%s: got %d attempts in the history, want %d", s.name, len(attempts), s.hits)
	}
	for i, a := range attempts {
		if got := http.Header(a.RequestHeaders).Get("webhook-id"); got != wantID {
			t.Errorf("%s attempt %d in the history: got webhook-id %q, want %q", s.name, i+1, got, wantID)
		}
	}
	first := attempts[0]
	switch s.name {
	case "flaky":
		if first.Status != 503 {
			t.Errorf("flaky: first attempt status %d, want 503", first.Status)
		}
	case "limited":
		if first.Status != 429 || http.Header(first.ResponseHeaders).Get("Retry-After") != "1" {
			t.Errorf("limited: first attempt status %d headers %v, want 429 with Retry-After", first.Status, first.ResponseHeaders)
		}
	case "slow":
		if first.Status != 0 || !strings.Contains(first.Error, "timeout") {
			t.Errorf("slow: first attempt status %d error %q, want no answer and a timeout", first.Status, first.Error)
		}
	}
}

// testRotation rotates a webhook's secret with a one-minute overlap: a delivery that fails
// once and recovers carries both secrets' signatures on both attempts; after the overlap only
// the new secret signs. It returns both secrets.
func testRotation(t *testing.T, api *apiClient, clock *offsetClock, arr *arrivals) []string {
	oldSecret, newSecret := newWhsec(t), newWhsec(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		arr.mark("rotating", n)
		if n == 1 {
			http.Error(w, "not yet", http.StatusBadGateway)
		}
	})
	var hook webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{
		"name": "rotating", "uri": rc.URL, "secretKey": oldSecret, "enabled": true, "triggers": 512, "standardSigning": true,
	}, &hook)
	var rotated struct {
		StandardSigning     bool       `json:"standardSigning"`
		PreviousSecretUntil *time.Time `json:"previousSecretUntil"`
	}
	before := clock.Now()
	env := api.ok(200, "PUT", fmt.Sprintf("/api/2.0/webhooks/%d/secret", hook.ID), map[string]any{"secretKey": newSecret, "overlap": "1m"}, &rotated)
	if strings.Contains(string(env.Response), oldSecret) || strings.Contains(string(env.Response), newSecret) {
		t.Errorf("the rotation's answer contains a secret")
	}
	if u := rotated.PreviousSecretUntil; !rotated.StandardSigning || u == nil || u.Before(before.Add(time.Minute)) || u.After(clock.Now().Add(time.Minute)) {
		t.Fatalf("rotation answer: standardSigning %v previousSecretUntil %v, want true and a minute from now", rotated.StandardSigning, u)
	}

	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.updated", "payload": map[string]any{"id": 2}}, nil)
	servertest.Eventually(t, 10*time.Second, "the rotating receiver recovers", func() bool { return len(rc.Hits()) == 2 })
	hits := rc.Hits()
	for i, h := range hits {
		sigs := standardSignatures(h.Header)
		if len(sigs) != 2 {
			t.Fatalf("during the overlap, attempt %d: got %d signatures, want 2", i+1, len(sigs))
		}
		at := arr.of("rotating", i+1)
		for _, secret := range []string{newSecret, oldSecret} {
			if err := verifyStandard(secret, h.Header, h.Body, at); err != nil {
				t.Errorf("during the overlap, attempt %d: %v", i+1, err)
			}
		}
		// The new secret's signature comes first, the old one's second.
		onlyNew, onlyOld := h.Header.Clone(), h.Header.Clone()
		onlyNew.Set("webhook-signature", sigs[0])
		onlyOld.Set("webhook-signature", sigs[1])
		if verifyStandard(newSecret, onlyNew, h.Body, at) != nil || verifyStandard(oldSecret, onlyOld, h.Body, at) != nil {
			t.Errorf("during the overlap, attempt %d: want the new secret's signature, then the old one's", i+1)
		}
		if err := verifySignature(newSecret, h.Body, h.Signature); err != nil {
			t.Errorf("during the overlap, attempt %d: DocSpace header: %v", i+1, err)
		}
		if err := verifySignature(oldSecret, h.Body, h.Header.Get("x-hookd-signature-256-previous")); err != nil {
			t.Errorf("during the overlap, attempt %d: previous-secret header: %v", i+1, err)
		}
	}
	if hits[0].Header.Get("webhook-id") != hits[1].Header.Get("webhook-id") {
		t.Errorf("the retry changed webhook-id from %q to %q", hits[0].Header.Get("webhook-id"), hits[1].Header.Get("webhook-id"))
	}

	// Let the delivery be recorded before time jumps past the overlap.
	servertest.Eventually(t, 10*time.Second, "the rotating delivery is recorded", func() bool {
		var rows []logDTO
		api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", hook.ID), nil, &rows)
		return len(rows) == 1 && rows[0].State == "delivered"
	})
	clock.Advance(2 * time.Minute)
	api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.updated", "payload": map[string]any{"id": 3}}, nil)
	servertest.Eventually(t, 10*time.Second, "the delivery after the overlap arrives", func() bool { return len(rc.Hits()) == 3 })
	h := rc.Hits()[2]
	at := arr.of("rotating", 3)
	if n := len(standardSignatures(h.Header)); n != 1 {
		t.Errorf("after the overlap: got %d signatures, want 1", n)
	}
	if err := verifyStandard(newSecret, h.Header, h.Body, at); err != nil {
		t.Errorf("after the overlap, new secret: %v", err)
	}
	if verifyStandard(oldSecret, h.Header, h.Body, at) == nil || verifySignature(oldSecret, h.Body, h.Signature) == nil {
		t.Errorf("after the overlap, the old secret still verifies")
	}
	if h.Header.Get("x-hookd-signature-256-previous") != "" {
		t.Errorf("after the overlap: got a previous-secret header")
	}
	var list []struct {
		Configs struct {
			ID                  int64      `json:"id"`
			PreviousSecretUntil *time.Time `json:"previousSecretUntil"`
		} `json:"configs"`
	}
	api.ok(200, "GET", "/api/2.0/settings/webhook", nil, &list)
	for _, it := range list {
		if it.Configs.ID == hook.ID && it.Configs.PreviousSecretUntil != nil {
			t.Errorf("after the overlap the webhook still shows previousSecretUntil %v", it.Configs.PreviousSecretUntil)
		}
	}
	return []string{oldSecret, newSecret}
}
