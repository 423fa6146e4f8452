// Package storetest is the contract suite of hookd.Store: Run exercises every method of a store
// against the behaviour the hookd.Store comments promise, so that the SQLite and PostgreSQL
// backends behave the same. It also provides a manual Clock for tests.
//
// The suite assumes nothing about the backend beyond the contract: it orders by what the
// contract orders by, compares times at microsecond precision, and uses durations in whole
// milliseconds.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hookd/hookd"
)

// Clock is a hookd.Clock that moves only when told to. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing t0.
func NewClock(t0 time.Time) *Clock {
	return &Clock{now: t0}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// T0 is the time every suite test starts at: UTC, whole seconds.
var T0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// OpenFunc returns a fresh, migrated, empty store whose times come from clock. It must close
// the store with t.Cleanup.
type OpenFunc func(t testing.TB, clock hookd.Clock) hookd.Store

// test is one behaviour of the contract.
type test struct {
	name string
	fn   func(t *testing.T, h *harness)
}

// Run runs the contract suite on the stores open returns, one fresh store per subtest.
func Run(t *testing.T, open OpenFunc) {
	var tests []test
	for _, group := range [][]test{
		schemaTests, keyTests, webhookTests, publishTests, listTests, retryTests,
		claimTests, attemptTests, opsTests, replayTests, healthTests, orderingTests, batchTests,
		concurrentPublishTests, attemptBatchTests, listingTests, listingCountTests, replayPruneTests,
		webhookEnableTests,
	} {
		tests = append(tests, group...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(T0)
			h := &harness{s: open(t, clock), clock: clock, ctx: t.Context()}
			tc.fn(t, h)
		})
	}
}

// harness is what each test gets: its own store and clock, and fixture helpers.
type harness struct {
	s     hookd.Store
	clock *Clock
	ctx   context.Context
	n     int // fixture counter for unique names
}

const (
	trigFileCreated = hookd.Trigger(1 << 7)
	trigFileUpdated = hookd.Trigger(1 << 9)
	trigUserCreated = hookd.Trigger(1 << 0)
	lease           = time.Minute
)

// webhook creates an enabled webhook subscribed to every event, after applying mods.
func (h *harness) webhook(t testing.TB, mods ...func(*hookd.Webhook)) *hookd.Webhook {
	t.Helper()
	h.n++
	w := &hookd.Webhook{
		Name:      fmt.Sprintf("hook %d", h.n),
		URI:       fmt.Sprintf("https://receiver.example/hook/%d", h.n),
		Secret:    fmt.Sprintf("secret-%d-abcdef", h.n),
		SSL:       true,
		Enabled:   true,
		CreatedBy: "11111111-1111-4111-8111-111111111111",
	}
	for _, m := range mods {
		m(w)
	}
	got, err := h.s.WebhookCreate(h.ctx, w)
	if err != nil {
		t.Fatalf("WebhookCreate: %v", err)
	}
	return got
}

// publish publishes an event of trigger tr (payload numbered for uniqueness).
func (h *harness) publish(t testing.TB, tr hookd.Trigger, mods ...func(*hookd.EventPublishParams)) (*hookd.Event, []*hookd.Delivery) {
	t.Helper()
	h.n++
	p := &hookd.EventPublishParams{
		Trigger:   tr,
		Payload:   []byte(fmt.Sprintf(`{"id":%d,"title":"Report \u00e9 <%d>.docx"}`, h.n, h.n)),
		CreatedBy: "22222222-2222-4222-8222-222222222222",
		UserID:    "33333333-3333-4333-8333-333333333333",
	}
	for _, m := range mods {
		m(p)
	}
	ev, ds, err := h.s.EventPublish(h.ctx, p)
	if err != nil {
		t.Fatalf("EventPublish: %v", err)
	}
	return ev, ds
}

// claim claims up to limit deliveries with the standard lease.
func (h *harness) claim(t testing.TB, limit int) []*hookd.Claim {
	t.Helper()
	cs, err := h.s.DeliveryClaim(h.ctx, &hookd.DeliveryClaimParams{Limit: limit, Lease: lease})
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	return cs
}

// claimOne claims exactly one delivery and fails the test otherwise.
func (h *harness) claimOne(t testing.TB) *hookd.Claim {
	t.Helper()
	cs := h.claim(t, 1)
	if len(cs) != 1 {
		t.Fatalf("DeliveryClaim: got %d claims, want 1", len(cs))
	}
	return cs[0]
}

// result builds the result of an attempt of claim c that got status: delivered for 2xx, else a
// retry one minute later. The attempt starts now and lasts 250 ms.
func (h *harness) result(c *hookd.Claim, status int) *hookd.AttemptResult {
	now := h.clock.Now()
	r := &hookd.AttemptResult{
		Attempt: hookd.Attempt{
			DeliveryID:      c.Delivery.ID,
			StartedAt:       now,
			Duration:        250 * time.Millisecond,
			RequestHeaders:  map[string][]string{"Accept": {"*/*"}, hookd.SignatureHeader: {"sha256=ABC"}},
			RequestBody:     []byte(fmt.Sprintf(`{"event":{"id":%d}}`, c.Delivery.ID)),
			Status:          status,
			ResponseHeaders: map[string][]string{"X-Answer": {fmt.Sprint(status)}},
			ResponseBody:    []byte(fmt.Sprintf("answer %d", status)),
		},
		ClaimToken: c.Token,
		Outcome:    hookd.OutcomeDelivered,
	}
	if status < 200 || status >= 300 {
		r.Outcome = hookd.OutcomeRetry
		r.NextAttemptAt = now.Add(time.Minute)
		r.Attempt.Error = fmt.Sprintf("status %d", status)
		if status == 0 {
			r.Attempt.ResponseHeaders, r.Attempt.ResponseBody = nil, nil
			r.Attempt.Error = "dial tcp: connection refused"
		}
	}
	return r
}

// record stores results and fails the test on error.
func (h *harness) record(t testing.TB, rs ...*hookd.AttemptResult) {
	t.Helper()
	if err := h.s.AttemptRecord(h.ctx, rs); err != nil {
		t.Fatalf("AttemptRecord: %v", err)
	}
}

// get returns a delivery and fails the test on error.
func (h *harness) get(t testing.TB, id int64) *hookd.Delivery {
	t.Helper()
	d, err := h.s.DeliveryGet(h.ctx, id)
	if err != nil {
		t.Fatalf("DeliveryGet(%d): %v", id, err)
	}
	return d
}

// getWebhook returns a webhook and fails the test on error.
func (h *harness) getWebhook(t testing.TB, id int64) *hookd.Webhook {
	t.Helper()
	w, err := h.s.WebhookGet(h.ctx, id)
	if err != nil {
		t.Fatalf("WebhookGet(%d): %v", id, err)
	}
	return w
}

// list runs DeliveryList and fails the test on error.
func (h *harness) list(t testing.TB, f hookd.DeliveryFilter) ([]*hookd.Delivery, int64) {
	t.Helper()
	ds, total, err := h.s.DeliveryList(h.ctx, f)
	if err != nil {
		t.Fatalf("DeliveryList(%+v): %v", f, err)
	}
	return ds, total
}

// wantCode fails the test unless err carries the domain error code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := hookd.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// ids returns the ids of deliveries, in their order.
func ids(ds []*hookd.Delivery) []int64 {
	out := make([]int64, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// desc returns a copy of ids sorted highest first.
func desc(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// cmpOpts compare domain values across backends: nil and empty maps and slices are equal, and
// so are the health "" and healthy (hookd.Webhook.Health: "" reads as healthy).
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b hookd.WebhookHealth) bool {
	return healthOf(a) == healthOf(b)
})}

// healthOf reads a stored health as hookd.Webhook.Health says: "" is healthy.
func healthOf(h hookd.WebhookHealth) hookd.WebhookHealth {
	if h == "" {
		return hookd.HealthHealthy
	}
	return h
}

// diff fails the test when got and want differ.
func diff(t testing.TB, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(slices.Clone(cmpOpts), opts...)...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}
