package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// testClock is a clock the test moves by hand; the store and the UI share it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is a UI on a real SQLite store behind an httptest server.
type testEnv struct {
	store    hookd.Store
	clock    *testClock
	srv      *httptest.Server
	woke     atomic.Int32
	checkErr atomic.Pointer[hookd.Error] // what CheckURL answers; nil accepts every URL
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"), clock)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	e := &testEnv{store: st, clock: clock}
	ui := New(st, Config{
		Clock:  clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CheckURL: func(ctx context.Context, uri string, ssl bool) error {
			if err := e.checkErr.Load(); err != nil {
				return err
			}
			return nil
		},
		Wake: func() { e.woke.Add(1) },
	})
	e.srv = httptest.NewServer(ui.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// newKey stores a key owned by a new user and returns its secret and record.
func (e *testEnv) newKey(t testing.TB, role hookd.Role, scope hookd.Scope) (string, *hookd.Key) {
	t.Helper()
	secret := hookd.NewKeySecret()
	k, err := e.store.KeyCreate(context.Background(), &hookd.Key{
		Name: "test " + string(role) + " " + string(scope), Hash: hookd.HashKey(secret), Hint: hookd.KeyHint(secret),
		Role: role, Scope: scope, UserID: hookd.NewUserID(),
	})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return secret, k
}

// browser is a client with a cookie jar that does not follow redirects, so tests see them.
type browser struct {
	env *testEnv
	c   *http.Client
}

func (e *testEnv) browser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{env: e, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signedIn returns a browser signed in with a new key of this role and scope.
func (e *testEnv) signedIn(t testing.TB, role hookd.Role, scope hookd.Scope) (*browser, *hookd.Key) {
	t.Helper()
	secret, k := e.newKey(t, role, scope)
	b := e.browser(t)
	if res := b.signIn(t, secret, ""); res.status != http.StatusSeeOther {
		t.Fatalf("sign in: got status %d, want 303; body: %s", res.status, res.body)
	}
	return b, k
}

// response is what a test looks at.
type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(t testing.TB, req *http.Request) response {
	t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(t testing.TB, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.env.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

func (b *browser) post(t testing.TB, path string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from the forms of the page at path.
func (b *browser) csrf(t testing.TB, path string) string {
	t.Helper()
	res := b.get(t, path)
	m := csrfPattern.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("GET %s: no csrf token in the page (status %d)", path, res.status)
	}
	return m[1]
}

// submit posts a form with the CSRF token of the page at from.
func (b *browser) submit(t testing.TB, from, path string, form url.Values) response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(t, from))
	return b.post(t, path, form)
}

// signIn posts the sign-in form as a browser would: GET it first for its token.
func (b *browser) signIn(t testing.TB, secret, next string) response {
	t.Helper()
	token := b.csrf(t, "/signin")
	return b.post(t, "/signin", url.Values{"csrf": {token}, "key": {secret}, "next": {next}})
}

// cookie returns the browser's cookie with this name, nil if none.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// webhook stores a webhook created by the key's user.
func (e *testEnv) webhook(t testing.TB, k *hookd.Key, name string) *hookd.Webhook {
	t.Helper()
	w, err := e.store.WebhookCreate(context.Background(), &hookd.Webhook{
		Name: name, URI: "https://receiver.example/" + name, Secret: "secret-" + name + "-1234",
		SSL: true, Enabled: true, CreatedBy: k.UserID,
	})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

// publish stores an event of trigger and returns its deliveries.
func (e *testEnv) publish(t testing.TB, trigger hookd.Trigger) []*hookd.Delivery {
	t.Helper()
	_, ds, err := e.store.EventPublish(context.Background(), &hookd.EventPublishParams{
		Trigger: trigger, Payload: json.RawMessage(`{"id":1}`),
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ds
}

// deliver claims every due delivery and records one attempt answered with status: 2xx is
// delivered, anything else failed for good.
func (e *testEnv) deliver(t testing.TB, status int, responseBody string) {
	t.Helper()
	ctx := context.Background()
	claims, err := e.store.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1000, Lease: time.Minute})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	var results []*hookd.AttemptResult
	for _, c := range claims {
		outcome, errText := hookd.OutcomeDelivered, ""
		if status < 200 || status >= 300 {
			outcome, errText = hookd.OutcomeFailed, fmt.Sprintf("HTTP %d", status)
		}
		body, err := hookd.BuildBody(c.Delivery.Event, c.Webhook, c.Delivery.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, &hookd.AttemptResult{
			Attempt: hookd.Attempt{
				DeliveryID: c.Delivery.ID, StartedAt: e.clock.Now(), Duration: 12 * time.Millisecond,
				RequestHeaders: map[string][]string{"X-Test": {"yes"}}, RequestBody: body,
				Status: status, ResponseHeaders: map[string][]string{"Server": {"test"}},
				ResponseBody: []byte(responseBody), Error: errText,
			},
			ClaimToken: c.Token,
			Outcome:    outcome,
		})
	}
	if err := e.store.AttemptRecord(ctx, results); err != nil {
		t.Fatalf("record: %v", err)
	}
}

// wantStatus fails the test when a response does not have the wanted status.
func wantStatus(t testing.TB, what string, got response, want int) {
	t.Helper()
	if got.status != want {
		t.Fatalf("%s: got status %d, want %d; body:\n%s", what, got.status, want, got.body)
	}
}

// wantRedirect fails the test unless the response is a 303 to a location starting with want.
func wantRedirect(t testing.TB, what string, got response, want string) {
	t.Helper()
	wantStatus(t, what, got, http.StatusSeeOther)
	if loc := got.header.Get("Location"); !strings.HasPrefix(loc, want) {
		t.Fatalf("%s: got redirect to %q, want %q", what, loc, want)
	}
}

func wantContains(t testing.TB, what, body, want string) {
	t.Helper()
	if !strings.Contains(body, want) {
		t.Fatalf("%s: page does not contain %q; body:\n%s", what, want, body)
	}
}

func wantNotContains(t testing.TB, what, body, unwanted string) {
	t.Helper()
	if strings.Contains(body, unwanted) {
		t.Fatalf("%s: page contains %q, want it absent", what, unwanted)
	}
}

// wantFormOption checks a checkbox of the webhook form end to end: the new form offers it
// (input name field, id id), a webhook created with it checked has get true, its edit form
// shows it checked, and saving it unchecked stores false. It returns the webhook.
func wantFormOption(t testing.TB, e *testEnv, b *browser, form url.Values, field, id string, get func(*hookd.Webhook) bool) *hookd.Webhook {
	t.Helper()
	ctx := context.Background()
	wantContains(t, "new form", b.get(t, "/webhooks/new").body, `name="`+field+`"`)
	form.Set(field, "on")
	wantRedirect(t, "create", b.submit(t, "/webhooks/new", "/webhooks", form), "/webhooks")
	w, err := e.store.WebhookFind(ctx, form.Get("name"), form.Get("uri"))
	if err != nil {
		t.Fatal(err)
	}
	if !get(w) {
		t.Fatalf("created with %s checked: got false", field)
	}
	path := fmt.Sprintf("/webhooks/%d", w.ID)
	wantContains(t, "edit form", b.get(t, path+"/edit").body, `id="`+id+`" checked`)
	form.Set("secret", "") // keep
	form.Del(field)
	wantRedirect(t, "save unchecked", b.submit(t, path+"/edit", path, form), "/webhooks")
	if w, err = e.store.WebhookGet(ctx, w.ID); err != nil || get(w) {
		t.Fatalf("saved with %s unchecked: got %v, %v; want false", field, err == nil && get(w), err)
	}
	return w
}
