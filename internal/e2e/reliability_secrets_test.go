package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// transcript is every answer a test got from the server, to search afterwards.
type transcript struct {
	t       *testing.T
	url     string
	answers []string // request line, status, headers and body of each answer
	errors  []string // the same, for error answers only
}

// call sends a request with key ("" for none) and keeps the answer's headers and body.
func (tr *transcript) call(method, path, key, body string) (int, []byte) {
	tr.t.Helper()
	req, err := http.NewRequest(method, tr.url+path, strings.NewReader(body))
	if err != nil {
		tr.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tr.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var headers strings.Builder
	resp.Header.Write(&headers)
	text := fmt.Sprintf("%s %s → %d\n%s\n%s", method, path, resp.StatusCode, headers.String(), raw)
	tr.answers = append(tr.answers, text)
	if resp.StatusCode >= 400 {
		tr.errors = append(tr.errors, text)
	}
	return resp.StatusCode, raw
}

// must calls and fails the test unless the status is want; it decodes response into out.
func (tr *transcript) must(want int, method, path, key, body string, out any) {
	tr.t.Helper()
	code, raw := tr.call(method, path, key, body)
	if code != want {
		tr.t.Fatalf("%s %s: got %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		var env struct{ Response json.RawMessage }
		if err := json.Unmarshal(raw, &env); err != nil || json.Unmarshal(env.Response, out) != nil {
			tr.t.Fatalf("%s %s: cannot decode %s", method, path, raw)
		}
	}
}

// TestReliabilitySecretsNeverShown drives a server through webhook creation and update,
// deliveries that succeed and fail, retries and refused keys, then searches what it logged
// (at debug level), every API answer, the error messages and the metrics for the webhook
// secrets, the API keys and the signatures sent. Signatures are shown in one place only, by
// design: the requestHeaders of the DocSpace log view (spec §3.4), which holds what was sent.
func TestReliabilitySecretsNeverShown(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	env := servertest.Start(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.AttemptTimeout = 300 * time.Millisecond
	})
	userKey := env.NewKey(t, hookd.RoleUser, hookd.ScopeWrite)
	readKey := env.NewKey(t, hookd.RoleAdmin, hookd.ScopeRead)
	wrongKey := hookd.NewKeySecret()
	const secret1, secret2, userSecret = "first-Secret-4711", "second-Secret-0815", "user-Secret-31337"
	tr := &transcript{t: t, url: env.URL}

	ok := newReceiver(t, nil)
	failing := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "receiver is down", http.StatusInternalServerError)
	})
	var hook, userHook webhookDTO
	tr.must(200, "POST", "/api/2.0/settings/webhook", env.AdminKey,
		fmt.Sprintf(`{"name":"ok","uri":%q,"secretKey":%q,"enabled":true}`, ok.URL, secret1), &hook)
	tr.must(200, "PUT", "/api/2.0/settings/webhook", env.AdminKey,
		fmt.Sprintf(`{"id":%d,"name":"ok","uri":%q,"secretKey":%q,"enabled":true}`, hook.ID, ok.URL, secret2), nil)
	tr.must(200, "POST", "/api/2.0/settings/webhook", userKey,
		fmt.Sprintf(`{"name":"failing","uri":%q,"secretKey":%q,"enabled":true,"triggers":128}`, failing.URL, userSecret), &userHook)
	tr.must(200, "PUT", "/api/2.0/settings/webhook/enable", userKey, fmt.Sprintf(`{"id":%d,"enabled":true}`, userHook.ID), nil)

	// Refusals: wrong, read-only and missing keys, and secrets that fail validation.
	for _, k := range []string{wrongKey, "Bearer " + wrongKey, readKey, ""} {
		tr.call("POST", "/api/2.0/settings/webhook", k, fmt.Sprintf(`{"name":"x","uri":%q,"secretKey":%q}`, ok.URL, secret1))
	}
	tr.call("POST", "/api/2.0/settings/webhook", env.AdminKey, fmt.Sprintf(`{"name":"x","uri":%q,"secretKey":"%s %s"}`, ok.URL, secret1, secret1))
	tr.call("POST", "/api/2.0/settings/webhook", env.AdminKey, fmt.Sprintf(`{"name":"x","uri":%q,"secretKey":["%s"]}`, ok.URL, secret1))
	tr.call("POST", "/api/2.0/settings/webhook", env.AdminKey, fmt.Sprintf(`{"name":"x","uri":"http://%s@10.0.0.1/","secretKey":%q}`, secret1, secret1))
	tr.call("PUT", "/api/2.0/settings/webhook", userKey, fmt.Sprintf(`{"id":%d,"name":"stolen","uri":%q,"secretKey":%q}`, hook.ID, ok.URL, secret1))

	var pub struct {
		Deliveries []struct{ ID int64 } `json:"deliveries"`
	}
	for i := range 3 {
		tr.must(202, "POST", "/api/2.0/webhooks/events", env.AdminKey, fmt.Sprintf(`{"trigger":"file.created","payload":{"id":%d}}`, i), &pub)
	}
	servertest.Eventually(t, 10*time.Second, "deliveries to both receivers, the failing one retried to the end", func() bool {
		var rows []logDTO
		tr.must(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d", userHook.ID), env.AdminKey, "", &rows)
		done := len(rows) == 3
		for _, r := range rows {
			done = done && r.State == string(hookd.DeliveryStateFailed)
		}
		return done && len(ok.Hits()) >= 3
	})
	var rows []logDTO
	tr.must(200, "GET", "/api/2.0/settings/webhooks/log", env.AdminKey, "", &rows)
	tr.must(200, "GET", "/api/2.0/settings/webhooks/log?groupStatus=Failed", userKey, "", nil)
	tr.must(200, "GET", "/api/2.0/settings/webhook", env.AdminKey, "", nil)
	tr.must(200, "GET", "/api/2.0/settings/webhook", userKey, "", nil)
	var attemptErrors []string
	for _, r := range rows {
		var as []struct{ Error string }
		tr.must(200, "GET", fmt.Sprintf("/api/2.0/webhooks/deliveries/%d/attempts", r.ID), env.AdminKey, "", &as)
		for _, a := range as {
			attemptErrors = append(attemptErrors, a.Error)
		}
	}
	tr.must(200, "PUT", fmt.Sprintf("/api/2.0/settings/webhook/%d/retry", rows[0].ID), env.AdminKey, "", nil)
	tr.must(200, "PUT", "/api/2.0/settings/webhook/retry", userKey, fmt.Sprintf(`{"ids":[%d,%d]}`, rows[0].ID, rows[1].ID), nil)
	tr.must(200, "DELETE", fmt.Sprintf("/api/2.0/settings/webhook/%d", userHook.ID), userKey, "", nil)
	if code, _ := tr.call("GET", "/metrics", "", ""); code != 200 {
		t.Errorf("got %d from /metrics, want its text searched too", code)
	}

	var signatures []string
	for _, h := range append(ok.Hits(), failing.Hits()...) {
		signatures = append(signatures, strings.TrimPrefix(h.Signature, "sha256="))
	}
	if len(signatures) < 6 {
		t.Fatalf("got %d signed requests at the receivers, want at least 6", len(signatures))
	}
	secrets := map[string]string{
		"webhook secret": secret1, "updated webhook secret": secret2, "user's webhook secret": userSecret,
		"admin key": env.AdminKey, "user key": userKey, "read key": readKey, "wrong key": wrongKey,
	}
	logged := logs.String()
	if !strings.Contains(logged, "delivery attempt") || !strings.Contains(logged, "receiver answered 500") {
		t.Fatalf("the logs lack the delivery attempts, so they prove nothing:\n%.2000s", logged)
	}
	for what, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the logs show the %s", what)
		}
		for _, a := range tr.answers {
			if strings.Contains(a, s) {
				t.Errorf("an answer shows the %s:\n%.1000s", what, a)
			}
		}
	}
	if len(tr.errors) < 8 || !strings.Contains(strings.Join(attemptErrors, "\n"), "receiver answered 500") {
		t.Fatalf("got %d error answers and attempt errors %q, want the refusals and failures searched", len(tr.errors), attemptErrors)
	}
	for _, sig := range signatures {
		if strings.Contains(strings.ToUpper(logged), sig) {
			t.Errorf("the logs show the signature %s", sig)
		}
		for _, a := range append(tr.errors, attemptErrors...) {
			if strings.Contains(strings.ToUpper(a), sig) {
				t.Errorf("an error message shows the signature %s: %.500s", sig, a)
			}
		}
		for _, a := range tr.answers {
			if strings.HasPrefix(a, "GET /metrics") && strings.Contains(strings.ToUpper(a), sig) {
				t.Errorf("the metrics show the signature %s", sig)
			}
		}
	}
}
