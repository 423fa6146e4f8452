package webui_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// receiver is a webhook receiver that fails with 500 until it is healed; once healed it can
// hold each request until released, so that the test sees deliveries in flight.
type receiver struct {
	srv     *httptest.Server
	healthy atomic.Bool
	ok      atomic.Int32
	failed  atomic.Int32

	mu   sync.Mutex
	gate chan struct{} // non-nil: healthy answers wait until it is closed
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		if !r.healthy.Load() {
			r.failed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"receiver is down"}`)
			return
		}
		r.mu.Lock()
		gate := r.gate
		r.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-req.Context().Done():
				return
			}
		}
		r.ok.Add(1)
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// hold makes healthy answers wait; the returned func lets them go.
func (r *receiver) hold() (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	r.gate = gate
	r.mu.Unlock()
	return sync.OnceFunc(func() {
		r.mu.Lock()
		r.gate = nil
		r.mu.Unlock()
		close(gate)
	})
}

// publish posts an event through the API, as a DocSpace portal would.
func publish(t testing.TB, env *servertest.Env, n int) {
	t.Helper()
	body := fmt.Sprintf(`{"trigger":"file.created","payload":{"id":%d,"title":"report-%d.docx"}}`, n, n)
	req, err := http.NewRequest(http.MethodPost, env.URL+"/api/2.0/webhooks/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: got status %d, want 202", res.StatusCode)
	}
}

// TestBrowser drives the UI in Chromium through the whole story of a failed delivery: sign
// in, create a webhook, publish to a failing receiver, filter the history to failed, open
// the details, retry one, retry a selection, and watch the new rows get delivered without a
// reload. Every page must load without console errors and ask only the server.
func TestBrowser(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, func(c *server.Config) {
		c.AttemptTimeout = 15 * time.Second // the receiver holds requests while the test looks
	})
	recv := newReceiver(t)
	c := startChrome(t, env.URL)
	ctx := context.Background()

	// Sign in: any page sends the browser to the sign-in form and back.
	c.open("/history")
	if loc := c.location(); !strings.HasPrefix(loc, "/signin?next=") {
		t.Fatalf("got location %q without a session, want the sign-in page", loc)
	}
	c.screenshot("signin")
	c.do("type the key", chromedp.SendKeys(chromedp.ID("key"), env.AdminKey))
	c.expectLoad("sign in", chromedp.Submit(chromedp.ID("key")))
	if loc := c.location(); loc != "/history" {
		t.Fatalf("after sign-in: got location %q, want /history", loc)
	}

	// Create a webhook, with a generated secret.
	c.open("/webhooks")
	c.expectLoad("open the form", chromedp.Click(chromedp.ID("new-webhook")))
	uri := recv.srv.URL + "/hooks/docspace"
	c.do("fill the form",
		chromedp.SendKeys(chromedp.ID("name"), "Reports"),
		chromedp.SendKeys(chromedp.ID("uri"), uri),
		chromedp.Click(chromedp.CSS(`input[name=ssl]`)), // a plain-http receiver
		chromedp.Click(chromedp.ID("generate-secret")),
	)
	if secret := eval[string](c, `document.getElementById("secret").value`); len(secret) != 32 {
		t.Fatalf("generated secret: got %d characters, want 32", len(secret))
	}
	c.screenshot("webhook-form")
	c.expectLoad("create", chromedp.Click(chromedp.ID("save-webhook")))
	if got := c.text("#flash"); !strings.Contains(got, `Webhook "Reports" created.`) {
		t.Fatalf("after create: got notice %q", got)
	}
	hook, err := env.Store.WebhookFind(ctx, "Reports", uri)
	if err != nil {
		t.Fatalf("the created webhook is not in the store: %v", err)
	}
	if hook.Secret == "" || hook.SSL || !hook.Enabled {
		t.Fatalf("created webhook: got secret set %v, ssl %v, enabled %v; want true, false, true", hook.Secret != "", hook.SSL, hook.Enabled)
	}

	// The switch turns it off and on again.
	c.expectLoad("switch off", chromedp.Click(chromedp.CSS(`#webhooks button[role=switch]`)))
	if got := c.text("#flash"); got != `Webhook "Reports" disabled.` {
		t.Fatalf("after switching off: got notice %q", got)
	}
	c.expectLoad("switch on", chromedp.Click(chromedp.CSS(`#webhooks button[role=switch][aria-checked=false]`)))
	if got := c.count(`#webhooks button[role=switch][aria-checked=true]`); got != 1 {
		t.Fatalf("after switching on: got %d switches on, want 1", got)
	}

	// Pause it from its page, see the badge, and resume it.
	c.open(fmt.Sprintf("/webhooks/%d/history", hook.ID))
	c.expectLoad("pause", chromedp.Click(chromedp.CSS(`button[data-pause]`)))
	if loc := c.location(); loc != fmt.Sprintf("/webhooks/%d/history", hook.ID) {
		t.Fatalf("after pause: got location %q, want the webhook's page", loc)
	}
	if got := c.text("#health .badge"); got != "Paused" {
		t.Fatalf("after pause: got health badge %q, want Paused", got)
	}
	if got := c.text("#flash"); !strings.Contains(got, `Webhook "Reports" paused`) {
		t.Fatalf("after pause: got notice %q", got)
	}
	if got, err := env.Store.WebhookGet(ctx, hook.ID); err != nil || got.State() != hookd.HealthPaused {
		t.Fatalf("after pause: got %v, %v; want the webhook paused in the store", got, err)
	}
	c.screenshot("webhook-paused")
	c.expectLoad("resume", chromedp.Click(chromedp.CSS(`button[data-resume]`)))
	if got := c.text("#health .badge"); got != "Healthy" {
		t.Fatalf("after resume: got health badge %q, want Healthy", got)
	}
	if got, err := env.Store.WebhookGet(ctx, hook.ID); err != nil || got.State() != hookd.HealthHealthy {
		t.Fatalf("after resume: got %v, %v; want the webhook healthy in the store", got, err)
	}

	// Publish to the failing receiver and let the retry schedule run out.
	for i := 1; i <= 3; i++ {
		publish(t, env, i)
	}
	servertest.Eventually(t, 20*time.Second, "three failed deliveries", func() bool {
		rows, _, err := env.Store.DeliveryList(ctx, hookd.DeliveryFilter{WebhookID: &hook.ID, GroupStatus: hookd.GroupStatusFailed})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range rows {
			if d.State == hookd.DeliveryStateFailed {
				n++
			}
		}
		return n == 3
	})
	c.open("/webhooks")
	if got := c.text(`#webhooks [data-label="Last status"] .badge`); got != "500" {
		t.Fatalf("webhook list badge: got %q, want 500", got)
	}
	c.screenshot("webhooks")

	// Filter the webhook's history to failed deliveries, with the keyboard.
	c.expectLoad("open the history", chromedp.Click(chromedp.CSS(`#webhooks a[href$="/history"]`)))
	c.do("check the Failed chip", chromedp.Focus(chromedp.CSS(`input[name=status][value=failed]`)), chromedp.KeyEvent(" "))
	c.expectLoad("apply the filter", chromedp.Focus(chromedp.ID("apply-filters")), chromedp.KeyEvent("\r"))
	if loc := c.location(); loc != fmt.Sprintf("/webhooks/%d/history?status=failed", hook.ID) {
		t.Fatalf("filtered history: got location %q, want the filter in the URL", loc)
	}
	if n := c.count("#history tbody tr"); n != 3 {
		t.Fatalf("failed deliveries listed: got %d, want 3", n)
	}
	c.screenshot("history-failed")

	// Details of the newest: every attempt is on the timeline.
	c.expectLoad("open details", chromedp.Click(chromedp.CSS(`#history tbody tr:first-child a[href^="/deliveries/"]`)))
	if n := c.count("#attempts li"); n != len(servertest.FastSchedule)+1 {
		t.Fatalf("attempts shown: got %d, want %d", n, len(servertest.FastSchedule)+1)
	}
	if got := c.text("#response pre"); !strings.Contains(got, "receiver is down") {
		t.Fatalf("response body: got %q, want the receiver's answer", got)
	}
	if got := c.text("#request pre"); !strings.Contains(got, `"trigger": "file.created"`) {
		t.Fatalf("request body: got %q, want the pretty-printed envelope", got)
	}
	c.screenshot("details")

	// Retry it from the details page, with the receiver healed but holding the request.
	recv.healthy.Store(true)
	release := recv.hold()
	defer release()
	c.expectLoad("retry one", chromedp.Click(chromedp.ID("retry-delivery")))
	if got := c.text("#flash"); !strings.Contains(got, "1 delivery re-sent.") {
		t.Fatalf("after retry: got notice %q, want 1 delivery re-sent", got)
	}
	watchLive(t, c, 1, release)

	// Retry a selection of the two others from the failed filter.
	c.open(fmt.Sprintf("/webhooks/%d/history?status=failed", hook.ID))
	c.do("select two rows",
		chromedp.Click(chromedp.CSS(`#history tbody tr:nth-child(1) input[name=sel]`)),
		chromedp.Click(chromedp.CSS(`#history tbody tr:nth-child(2) input[name=sel]`)),
	)
	if got := c.text("#retry-selected"); got != "Retry selected (2)" {
		t.Fatalf("batch button: got %q, want it to count the selection", got)
	}
	release = recv.hold()
	defer release()
	c.expectLoad("retry the selection", chromedp.Click(chromedp.ID("retry-selected")))
	if got := c.text("#flash"); !strings.Contains(got, "2 deliveries re-sent.") {
		t.Fatalf("after batch retry: got notice %q, want 2 deliveries re-sent", got)
	}
	watchLive(t, c, 2, release)
	if got := recv.ok.Load(); got != 3 {
		t.Fatalf("receiver got %d successful deliveries, want 3", got)
	}
	c.screenshot("history")
	if os.Getenv("HOOKD_UPDATE_SCREENSHOT") != "" {
		c.viewport(1100, 720, false, "light")
		writeDocScreenshot(t, c.screenshot("readme"))
	}

	// Phone-sized and dark, and the pages not visited yet: all without errors.
	c.viewport(390, 844, true, "dark")
	c.open(fmt.Sprintf("/webhooks/%d/history", hook.ID))
	c.screenshot("history-phone-dark")
	c.open("/history")
	c.screenshot("history-all-phone-dark")
	c.viewport(1280, 900, false, "dark")
	c.open(fmt.Sprintf("/webhooks/%d/edit", hook.ID))
	c.screenshot("webhook-edit-dark")
	c.open(fmt.Sprintf("/webhooks/%d/delete", hook.ID))
	c.screenshot("webhook-delete-dark")
	c.expectLoad("sign out", chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)))
	c.screenshot("signed-out-dark")
	c.clean("end")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests == 0 {
		t.Fatal("recorded no request: the network listener is not working")
	}
}

// watchLive checks the n new rows at the top of the history: they are marked new, still in
// flight while the receiver holds them, and turn delivered without a reload once it answers.
func watchLive(t *testing.T, c *chrome, n int, release func()) {
	t.Helper()
	if got := c.count("#history tbody tr.new"); got != n {
		t.Fatalf("new rows: got %d, want %d", got, n)
	}
	if got := c.count("#history tbody tr:nth-child(-n+" + fmt.Sprint(n) + ").new[data-live]"); got != n {
		t.Fatalf("new rows at the top still in flight: got %d, want %d", got, n)
	}
	eval[bool](c, `window.hookdNoReload = true`)
	release()
	c.waitFor("new rows delivered", fmt.Sprintf(
		`Array.from(document.querySelectorAll("#history tbody tr.new [data-cell=badge] .badge")).filter(b => b.textContent === "200").length === %d`, n),
		15*time.Second)
	if !eval[bool](c, `window.hookdNoReload === true`) {
		t.Fatal("the page reloaded: rows should update in place")
	}
	c.clean("live update")
}

// writeDocScreenshot copies the history screenshot to docs/screenshot.png for the README.
func writeDocScreenshot(t *testing.T, png []byte) {
	t.Helper()
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatal("screenshot is not a PNG")
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshot.png"), png, 0o644); err != nil {
		t.Fatalf("write docs/screenshot.png: %v", err)
	}
}
