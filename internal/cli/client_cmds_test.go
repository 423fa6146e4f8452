package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// result is what one in-process run of the command line left.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs hookd with args against url with key (the HOOKD_URL and HOOKD_KEY variables).
func runCLI(t testing.TB, url, key, stdin string, args ...string) result {
	t.Helper()
	env := map[string]string{"HOOKD_URL": url, "HOOKD_KEY": key}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t testing.TB, e *servertest.Env, args ...string) result {
	t.Helper()
	r := runCLI(t, e.URL, e.AdminKey, "", args...)
	if r.code != ExitOK {
		t.Fatalf("hookd %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// decodeJSON parses a command's -o json output.
func decodeJSON[T any](t testing.TB, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decode output %q: %v", r.stdout, err)
	}
	return v
}

// receiver is a real HTTP receiver of deliveries that answers with a status set by the test
// and records the delivery ids (event.id) it was sent, with their signature checked.
type receiver struct {
	*httptest.Server
	secret string
	status atomic.Int32
	mu     sync.Mutex
	hits   map[int64]int // event.id → requests
	badSig int
}

func newReceiver(t testing.TB, secret string, status int) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, hits: map[int64]int{}}
	rc.status.Store(int32(status))
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return
		}
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Event struct {
				ID int64 `json:"id"`
			} `json:"event"`
		}
		json.Unmarshal(body, &env)
		rc.mu.Lock()
		rc.hits[env.Event.ID]++
		if !client.VerifySignature(rc.secret, body, r.Header.Get(client.SignatureHeader)) {
			rc.badSig++
		}
		rc.mu.Unlock()
		w.WriteHeader(int(rc.status.Load()))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// hitCount returns how many requests delivery id caused.
func (rc *receiver) hitCount(id int64) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits[id]
}

func (rc *receiver) badSignatures() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.badSig
}

// startServer runs a hookd server whose automatic retries end fast: two attempts per delivery.
func startServer(t testing.TB) *servertest.Env {
	t.Helper()
	return servertest.Start(t, func(c *server.Config) {
		c.RetrySchedule = []time.Duration{10 * time.Millisecond}
		// These tests need deliveries to a dead receiver to fail for good, as after a long
		// outage; endpoint health would pause the webhook and hold them instead
		// (docs/health.md, tested in internal/e2e).
		c.HealthOff = true
	})
}

// createWebhook creates a webhook to rc through the CLI and returns its id.
func createWebhook(t testing.TB, e *servertest.Env, rc *receiver, name string, extra ...string) int64 {
	t.Helper()
	args := append([]string{"webhooks", "create", "--name", name, "--uri", rc.URL, "--secret", rc.secret, "--ssl=false", "-o", "json"}, extra...)
	hooks := decodeJSON[[]client.Webhook](t, mustRun(t, e, args...))
	if len(hooks) != 1 || hooks[0].ID == 0 {
		t.Fatalf("create printed %+v, want one webhook", hooks)
	}
	return hooks[0].ID
}

// deliveries returns every delivery in the server's store, newest first.
func deliveries(t testing.TB, e *servertest.Env, f hookd.DeliveryFilter) []*hookd.Delivery {
	t.Helper()
	ds, _, err := e.Store.DeliveryList(context.Background(), f)
	if err != nil {
		t.Fatalf("list deliveries: %v", err)
	}
	return ds
}

// settled waits until no delivery of the server is pending, in flight or retrying.
func settled(t testing.TB, e *servertest.Env) {
	t.Helper()
	servertest.Eventually(t, 30*time.Second, "deliveries settle", func() bool {
		for _, d := range deliveries(t, e, hookd.DeliveryFilter{}) {
			if d.State != hookd.DeliveryStateDelivered && d.State != hookd.DeliveryStateFailed {
				return false
			}
		}
		return true
	})
}

func TestErrorsReadLikeSentences(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	readKey := e.NewKey(t, hookd.RoleAdmin, hookd.ScopeRead)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	wrongKey := hookd.NewKeySecret()

	tests := []struct {
		name     string
		url, key string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"WrongKey", e.URL, wrongKey, []string{"webhooks", "list"}, ExitAuth, "refused the API key (401 Unauthorized"},
		{"ReadOnlyKeyWrites", e.URL, readKey, []string{"webhooks", "delete", "1"}, ExitAuth, "not allowed to do this (403 Forbidden"},
		{"UnknownWebhook", e.URL, e.AdminKey, []string{"webhooks", "delete", "999"}, ExitNotFound, "webhook 999 was not found (404 Not Found"},
		{"UnknownWebhookUpdate", e.URL, e.AdminKey, []string{"webhooks", "update", "998", "--name", "x"}, ExitNotFound, "webhook 998 was not found"},
		{"UnknownDelivery", e.URL, e.AdminKey, []string{"retry", "4242"}, ExitNotFound, "delivery 4242 was not found (404 Not Found"},
		{"UnknownDeliveryAttempts", e.URL, e.AdminKey, []string{"logs", "attempts", "4243"}, ExitNotFound, "delivery 4243 was not found"},
		{"Unreachable", closedURL, e.AdminKey, []string{"triggers"}, ExitUnreachable, "cannot reach the server at " + closedURL + ": connection refused"},
		{"NoKey", e.URL, "", []string{"logs"}, ExitUsage, "no API key: set HOOKD_KEY or pass --key"},
		{"BadID", e.URL, e.AdminKey, []string{"retry", "abc"}, ExitUsage, `"abc" is not a delivery id`},
		{"BadOutput", e.URL, e.AdminKey, []string{"triggers", "-o", "yaml"}, ExitUsage, `--output "yaml": use table or json`},
		{"BadStatus", e.URL, e.AdminKey, []string{"logs", "--status", "6xx"}, ExitUsage, `unknown status "6xx"`},
		{"ServerRefuses", e.URL, e.AdminKey, []string{"webhooks", "create", "--name", "x", "--uri", "ftp://nowhere", "--secret", "s3cret-key"}, ExitError, "the server refused the request (400 Bad Request: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.url, tt.key, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("got exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantMsg) {
				t.Errorf("got stderr %q, want it to contain %q", r.stderr, tt.wantMsg)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("got %d lines on stderr, want one: %q", n+1, r.stderr)
			}
			if tt.key != "" && strings.Contains(r.stderr+r.stdout, tt.key) {
				t.Errorf("the output shows the API key")
			}
		})
	}
}

func TestKeyFlagBeatsEnvironment(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	r := runCLI(t, "http://127.0.0.1:1", "sk-wrong", "", "triggers", "--url", e.URL, "--key", e.AdminKey, "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("got exit %d (%q), want 0", r.code, r.stderr)
	}
	ts := decodeJSON[[]client.TriggerInfo](t, r)
	if len(ts) != len(hookd.Triggers) {
		t.Errorf("got %d triggers, want %d", len(ts), len(hookd.Triggers))
	}
}

func TestHelpDoesNotShowTheKey(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "http://127.0.0.1:1", "sk-secret-in-env", "", "retry", "--help")
	if r.code != ExitOK || !strings.Contains(r.stdout, "--failed") {
		t.Fatalf("help: exit %d, stdout %q", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "sk-secret-in-env") {
		t.Errorf("--help prints the key from HOOKD_KEY")
	}
}
