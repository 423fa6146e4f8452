package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// caller is an API key of the fixture: its secret and its stored form.
type caller struct {
	token string
	key   *hookd.Key
}

// fixture is an API over a fresh SQLite store, served by an httptest server, with one key of
// each kind the tests need.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	store *sqlite.Store
	clock *testClock
	srv   *httptest.Server
	wakes atomic.Int64
	logs  *syncBuffer // what the API logged

	admin     caller // admin, write
	adminRead caller // admin, read
	user      caller // user, write
	user2     caller // another user, write
	userRead  caller // user's read key (same user as user)
}

// newFixture starts an API; edit, when given, adjusts the config before New.
func newFixture(t testing.TB, edit ...func(*httpapi.Config)) *fixture {
	t.Helper()
	return newWrappedFixture(t, nil, edit...)
}

// newWrappedFixture starts an API over wrap(store) (the store itself when wrap is nil), so
// that a test can watch or disturb the API's calls; f.store stays the store underneath.
func newWrappedFixture(t testing.TB, wrap func(hookd.Store) hookd.Store, edit ...func(*httpapi.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{t: time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC)}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"), clock)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	f := &fixture{t: t, ctx: ctx, store: store, clock: clock, logs: &syncBuffer{}}
	cfg := httpapi.Config{
		Clock:  clock,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Wake:   func() { f.wakes.Add(1) },
	}
	for _, e := range edit {
		e(&cfg)
	}
	var api hookd.Store = store
	if wrap != nil {
		api = wrap(store)
	}
	f.srv = httptest.NewServer(httpapi.New(api, cfg).Handler())
	t.Cleanup(f.srv.Close)

	f.admin = f.newKey(hookd.RoleAdmin, hookd.ScopeWrite, "", nil)
	f.adminRead = f.newKey(hookd.RoleAdmin, hookd.ScopeRead, "", nil)
	f.user = f.newKey(hookd.RoleUser, hookd.ScopeWrite, "", nil)
	f.user2 = f.newKey(hookd.RoleUser, hookd.ScopeWrite, "", nil)
	f.userRead = f.newKey(hookd.RoleUser, hookd.ScopeRead, f.user.key.UserID, nil)
	return f
}

// newKey stores a key; userID "" gives the key a new user.
func (f *fixture) newKey(role hookd.Role, scope hookd.Scope, userID string, expires *time.Time) caller {
	f.t.Helper()
	if userID == "" {
		userID = hookd.NewUserID()
	}
	secret := hookd.NewKeySecret()
	k, err := f.store.KeyCreate(f.ctx, &hookd.Key{
		Name: string(role) + "-" + string(scope), Hash: hookd.HashKey(secret), Hint: hookd.KeyHint(secret),
		Role: role, Scope: scope, UserID: userID, ExpiresOn: expires,
	})
	if err != nil {
		f.t.Fatalf("create key: %v", err)
	}
	return caller{token: secret, key: k}
}

// answer is a decoded API answer: the envelope of either shape and the raw body.
type answer struct {
	status int
	header http.Header
	raw    []byte

	Response   json.RawMessage `json:"response"`
	Count      *int            `json:"count"`
	Total      *int64          `json:"total"`
	Links      []struct{ Href, Action string }
	Status     *int `json:"status"`
	StatusCode int  `json:"statusCode"`
	Error      *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// do sends a request with c's key (none when c is nil) and decodes the JSON answer.
func (f *fixture) do(c *caller, method, path, body string) *answer {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.ctx, method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatalf("new request: %v", err)
	}
	if c != nil {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) *answer {
	f.t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("read answer: %v", err)
	}
	a := &answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, a); err != nil {
		f.t.Fatalf("%s %s: answer is not JSON: %v\n%s", req.Method, req.URL.Path, err, raw)
	}
	return a
}

// ok fails unless the answer is a success envelope with status want, and decodes its response
// into v (when not nil).
func (a *answer) ok(t testing.TB, want int, v any) *answer {
	t.Helper()
	if a.status != want || a.Error != nil || a.Status == nil || *a.Status != 0 || a.StatusCode != want {
		t.Fatalf("got HTTP %d, want %d success envelope; body: %s", a.status, want, a.raw)
	}
	if v != nil {
		if err := json.Unmarshal(a.Response, v); err != nil {
			t.Fatalf("decode response: %v\n%s", err, a.Response)
		}
	}
	return a
}

// fails checks that the answer is the error shape with status want and a message containing
// msg, and returns the message.
func (a *answer) fails(t testing.TB, want int, msg string) string {
	t.Helper()
	if a.status != want || a.Error == nil || a.Status == nil || *a.Status != 1 || a.StatusCode != want {
		t.Fatalf("got HTTP %d, want %d error envelope; body: %s", a.status, want, a.raw)
	}
	if !strings.Contains(a.Error.Message, msg) {
		t.Fatalf("got message %q, want it to contain %q", a.Error.Message, msg)
	}
	if a.Response != nil || a.Count != nil || a.Links != nil {
		t.Fatalf("error envelope carries success fields: %s", a.raw)
	}
	return a.Error.Message
}

// webhookDTO mirrors the API's webhook config for decoding in tests.
type webhookDTO struct {
	ID                 int64
	Name               string
	URI                string
	Enabled            bool
	SSL                bool
	Triggers           int64
	TargetID           string
	CreatedBy          *struct{ ID string }
	CreatedOn          string
	ModifiedBy         *struct{ ID string }
	ModifiedOn         string
	LastFailureOn      string
	LastFailureContent string
	LastSuccessOn      string
	DisabledReason     string
	StandardSigning    bool
	Ordered            bool
	Health             string
	HealthReason       string
	HealthSince        *string
	ProbeAt            *string
}

// logRow mirrors the API's log DTO.
type logRow struct {
	ID              int64
	ConfigName      string
	Trigger         int64
	CreationTime    string
	RequestHeaders  *string
	RequestPayload  string
	ResponseHeaders *string
	ResponsePayload *string
	Status          int
	Delivery        *string
	ConfigID        int64
	State           string
	Attempts        int
	RetryOf         int64
	NextAttemptOn   *string
}

// createWebhook creates a webhook through the API and returns it.
func (f *fixture) createWebhook(c *caller, name, uri string, triggers hookd.Trigger, extra string) webhookDTO {
	f.t.Helper()
	body := fmt.Sprintf(`{"name":%q,"uri":%q,"secretKey":"s3cret-key","enabled":true,"triggers":%d%s}`, name, uri, triggers, extra)
	var w webhookDTO
	f.do(c, "POST", "/api/2.0/settings/webhook", body).ok(f.t, 200, &w)
	return w
}

// publishResult mirrors the publish answer.
type publishResult struct {
	EventID    int64
	Trigger    int64
	Deliveries []struct{ ID, ConfigID int64 }
}

// publish publishes an event through the API as the admin.
func (f *fixture) publish(trigger string, payload string) publishResult {
	f.t.Helper()
	var p publishResult
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", fmt.Sprintf(`{"trigger":%s,"payload":%s}`, trigger, payload)).ok(f.t, 202, &p)
	return p
}

// attempt is how a test wants one delivery's attempt to go.
type attempt struct {
	status int    // HTTP status, 0 for no answer
	body   string // receiver body, or transport error when status is 0
	final  bool   // a failure gives up instead of retrying
}

// recordAttempts claims every due delivery, records the attempts asked for at the clock's
// time, and releases the others.
func (f *fixture) recordAttempts(want map[int64]attempt) {
	f.t.Helper()
	claims, err := f.store.DeliveryClaim(f.ctx, &hookd.DeliveryClaimParams{Limit: 1000, Lease: time.Minute})
	if err != nil {
		f.t.Fatalf("claim: %v", err)
	}
	var results []*hookd.AttemptResult
	var release []*hookd.Claim
	for _, c := range claims {
		a, ok := want[c.Delivery.ID]
		if !ok {
			release = append(release, c)
			continue
		}
		delete(want, c.Delivery.ID)
		body, err := hookd.BuildBody(c.Delivery.Event, c.Webhook, c.Delivery.ID, nil)
		if err != nil {
			f.t.Fatalf("build body: %v", err)
		}
		at := hookd.Attempt{
			DeliveryID:     c.Delivery.ID,
			Number:         c.Delivery.Attempts + 1,
			StartedAt:      f.clock.Now(),
			Duration:       1500 * time.Millisecond,
			RequestHeaders: map[string][]string{"Accept": {"*/*"}, hookd.SignatureHeader: {hookd.Sign(c.Webhook.Secret, body)}},
			RequestBody:    body,
			Status:         a.status,
		}
		res := &hookd.AttemptResult{ClaimToken: c.Token}
		switch {
		case a.status >= 200 && a.status < 300:
			res.Outcome = hookd.OutcomeDelivered
		case a.final:
			res.Outcome = hookd.OutcomeFailed
		default:
			res.Outcome = hookd.OutcomeRetry
			res.NextAttemptAt = f.clock.Now().Add(time.Hour)
		}
		if a.status == 0 {
			at.Error = a.body
		} else {
			at.ResponseHeaders = map[string][]string{"Content-Type": {"text/plain"}}
			at.ResponseBody = []byte(a.body)
			if res.Outcome != hookd.OutcomeDelivered {
				at.Error = fmt.Sprintf("receiver answered %d", a.status)
			}
		}
		res.Attempt = at
		results = append(results, res)
	}
	if len(want) > 0 {
		f.t.Fatalf("deliveries not due, cannot attempt: %v", want)
	}
	if err := f.store.AttemptRecord(f.ctx, results); err != nil {
		f.t.Fatalf("record attempts: %v", err)
	}
	if len(release) > 0 {
		if err := f.store.DeliveryRelease(f.ctx, release); err != nil {
			f.t.Fatalf("release: %v", err)
		}
	}
}

// logIDs lists the log with query q as c and returns the row ids and total.
func (f *fixture) logIDs(c *caller, q string) ([]int64, int64) {
	f.t.Helper()
	var rows []logRow
	a := f.do(c, "GET", "/api/2.0/settings/webhooks/log"+q, "").ok(f.t, 200, &rows)
	if a.Total == nil {
		f.t.Fatalf("log listing %s has no total: %s", q, a.raw)
	}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids, *a.Total
}

// jsonBody marshals v for a request body.
func jsonBody(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encode body: %v", err)
	}
	return buf.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
