package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// These tests cover what is specific to PostgreSQL or easy to get wrong in its SQL; the
// contract suite (storetest) covers every Store behaviour on both backends.

func TestPayloadKeepsItsBytes(t *testing.T) {
	t.Parallel()
	s := pgtest.OpenTest(t, nil)
	ctx := context.Background()
	mustWebhook(t, s, "a")
	// jsonb would reorder the keys and rewrite the escapes; the signature covers these bytes.
	payload := `{"z":1.50,"a":"<&>","u":"\u00e9"}`
	ds := mustPublish(t, s, payload)
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	d, err := s.DeliveryGet(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(d.Event.Payload); got != payload {
		t.Errorf("got payload %s, want %s", got, payload)
	}
}

func TestDeliveryLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	w := mustWebhook(t, s, "a")
	ds := mustPublish(t, s, `{"id":1}`)
	if len(ds) != 1 || ds[0].WebhookID != w.ID || ds[0].State != hookd.DeliveryStatePending {
		t.Fatalf("got deliveries %+v, want one pending for webhook %d", ds, w.ID)
	}
	if want := clk.Now().Truncate(time.Microsecond); !ds[0].NextAttemptAt.Equal(want) {
		t.Errorf("got next attempt %v, want %v", ds[0].NextAttemptAt, want)
	}

	claims, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].Webhook.Secret != "s3cret-value" || string(claims[0].Delivery.Event.Payload) != `{"id":1}` {
		t.Fatalf("got claims %+v, want the one delivery with its webhook and event", claims)
	}
	c := claims[0]
	start := clk.Now()
	res := &hookd.AttemptResult{
		Attempt: hookd.Attempt{
			DeliveryID: c.Delivery.ID, StartedAt: start, Duration: 1500 * time.Millisecond,
			RequestHeaders: map[string][]string{"Accept": {"*/*"}}, RequestBody: []byte(`{"x":1}`),
			Status: 503, ResponseBody: []byte("busy"), Error: "503 Service Unavailable",
		},
		ClaimToken: c.Token, Outcome: hookd.OutcomeRetry, NextAttemptAt: start.Add(5 * time.Second),
	}
	if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{res}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeliveryGet(ctx, c.Delivery.ID)
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(1500 * time.Millisecond).Truncate(time.Microsecond)
	if got.State != hookd.DeliveryStateRetrying || got.Attempts != 1 || got.Status != 503 ||
		got.DeliveredOn == nil || !got.DeliveredOn.Equal(end) || got.LeaseUntil != nil {
		t.Errorf("got delivery %+v, want retrying after one 503 that ended at %v", got, end)
	}
	if got.LastAttempt == nil || got.LastAttempt.Number != 1 || string(got.LastAttempt.ResponseBody) != "busy" ||
		got.LastAttempt.ResponseHeaders != nil {
		t.Fatalf("got last attempt %+v, want attempt 1 with body busy and no response headers", got.LastAttempt)
	}
	if diff := cmp.Diff(map[string][]string{"Accept": {"*/*"}}, got.LastAttempt.RequestHeaders); diff != "" {
		t.Errorf("request headers (-want +got):\n%s", diff)
	}
	next, err := s.DeliveryNextDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(5 * time.Second).Truncate(time.Microsecond); !next.Equal(want) {
		t.Errorf("got next due %v, want %v", next, want)
	}
	ws, err := s.WebhookList(ctx, hookd.WebhookFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].LastStatus != 503 || ws[0].LastFailureOn == nil || ws[0].LastFailureContent != "503 Service Unavailable" {
		t.Errorf("got webhooks %+v, want one with last status 503 and a failure", ws)
	}

	// Deleting the webhook takes its deliveries and attempts along.
	if _, err := s.WebhookDelete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeliveryGet(ctx, c.Delivery.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
		t.Errorf("got error %v after delete, want not found", err)
	}
	as, err := s.AttemptList(ctx, c.Delivery.ID)
	if err != nil || len(as) != 0 {
		t.Errorf("got attempts %v, %v after delete, want none", as, err)
	}
}

func TestStaleClaimRecordsOnlyTheAttempt(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	mustWebhook(t, s, "a")
	mustPublish(t, s, `{}`)
	claim := func() *hookd.Claim {
		t.Helper()
		cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1, Lease: time.Minute})
		if err != nil || len(cs) != 1 {
			t.Fatalf("got claims %v, %v, want one", cs, err)
		}
		return cs[0]
	}
	first := claim()
	if cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 1, Lease: time.Minute}); err != nil || len(cs) != 0 {
		t.Fatalf("got claims %v, %v within the lease, want none", cs, err)
	}
	clk.Add(time.Minute + time.Microsecond)
	second := claim() // the lease ran out: taken over
	if second.Token <= first.Token {
		t.Fatalf("got token %d after %d, want it to grow", second.Token, first.Token)
	}
	result := func(c *hookd.Claim, status int) *hookd.AttemptResult {
		return &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: clk.Now(), Status: status},
			ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
		}
	}
	// The late answer of the first claim, then the second claim's, in one batch.
	if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{result(first, 200), result(second, 201)}); err != nil {
		t.Fatal(err)
	}
	d, err := s.DeliveryGet(ctx, first.Delivery.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != hookd.DeliveryStateDelivered || d.Status != 201 || d.Attempts != 1 || d.LastAttempt.Number != 2 {
		t.Errorf("got state %s status %d attempts %d last #%d, want delivered 201 by the second claim (attempt 2)",
			d.State, d.Status, d.Attempts, d.LastAttempt.Number)
	}
	as, err := s.AttemptList(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Status != 200 || as[1].Status != 201 {
		t.Errorf("got %d attempts, want both, the stale one first", len(as))
	}
}

func TestRecordAfterWebhookDeleted(t *testing.T) {
	t.Parallel()
	s := pgtest.OpenTest(t, nil)
	ctx := context.Background()
	w := mustWebhook(t, s, "a")
	keep := mustWebhook(t, s, "b")
	mustPublish(t, s, `{}`)
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 10, Lease: time.Minute})
	if err != nil || len(cs) != 2 {
		t.Fatalf("got claims %v, %v, want two", cs, err)
	}
	if _, err := s.WebhookDelete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: 200},
			ClaimToken: c.Token, Outcome: hookd.OutcomeDelivered,
		})
	}
	if err := s.AttemptRecord(ctx, rs); err != nil {
		t.Fatalf("got %v, want the result of the deleted delivery dropped", err)
	}
	if cs[0].Webhook.ID != w.ID {
		t.Fatalf("got first claim for webhook %d, want %d (oldest first, then by id)", cs[0].Webhook.ID, w.ID)
	}
	if err := s.AttemptRecord(ctx, rs[:1]); err != nil {
		t.Fatalf("got %v from a batch of only deleted deliveries, want nil", err)
	}
	ds, _, err := s.DeliveryList(ctx, hookd.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].WebhookID != keep.ID || ds[0].State != hookd.DeliveryStateDelivered {
		t.Errorf("got deliveries %+v, want the kept webhook's, delivered", ds)
	}
}

func TestGroupStatusMatchesIncludes(t *testing.T) {
	t.Parallel()
	s := pgtest.OpenTest(t, nil)
	ctx := context.Background()
	statuses := []int{0, 150, 200, 204, 302, 404, 410, 500, 503}
	for range len(statuses) + 1 { // the last one is never tried: status 0, no attempts
		mustWebhook(t, s, "w")
	}
	ds := mustPublish(t, s, `{}`)
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: len(statuses), Lease: time.Minute})
	if err != nil || len(cs) != len(statuses) {
		t.Fatalf("got claims %v, %v, want %d", cs, err, len(statuses))
	}
	var rs []*hookd.AttemptResult
	for i, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: statuses[i]},
			ClaimToken: c.Token, Outcome: hookd.OutcomeFailed,
		})
	}
	if err := s.AttemptRecord(ctx, rs); err != nil {
		t.Fatal(err)
	}
	all, _, err := s.DeliveryList(ctx, hookd.DeliveryFilter{})
	if err != nil || len(all) != len(ds) {
		t.Fatalf("got %d deliveries, %v, want %d", len(all), err, len(ds))
	}
	for g := hookd.GroupStatus(0); g < 32; g++ {
		for _, g := range []hookd.GroupStatus{g, g | hookd.GroupStatusFailed} {
			var want []int64
			for _, d := range all {
				if g.Includes(d.Status, d.Attempts) {
					want = append(want, d.ID)
				}
			}
			got, total, err := s.DeliveryList(ctx, hookd.DeliveryFilter{GroupStatus: g})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if diff := cmp.Diff(want, ids); diff != "" || total != int64(len(want)) {
				t.Errorf("group status %d: total %d, ids (-Includes +SQL):\n%s", g, total, diff)
			}
		}
	}
}

func TestBatchFoldsWebhookUpdatesInOrder(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	w := mustWebhook(t, s, "a")
	for range 3 {
		mustPublish(t, s, `{}`)
	}
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: 3, Lease: time.Minute})
	if err != nil || len(cs) != 3 {
		t.Fatalf("got claims %v, %v, want 3", cs, err)
	}
	t0 := clk.Now().Truncate(time.Microsecond)
	res := func(i, status int, disable string) *hookd.AttemptResult {
		r := &hookd.AttemptResult{
			Attempt: hookd.Attempt{DeliveryID: cs[i].Delivery.ID, StartedAt: t0.Add(time.Duration(i) * time.Second),
				Status: status, Error: fmt.Sprintf("e%d", i)},
			ClaimToken: cs[i].Token, Outcome: hookd.OutcomeFailed, DisableWebhook: disable,
		}
		if status == 200 {
			r.Outcome, r.Attempt.Error = hookd.OutcomeDelivered, ""
		}
		return r
	}
	// In order: a failure that disables, a success, another failure.
	if err := s.AttemptRecord(ctx, []*hookd.AttemptResult{res(0, 410, "410 Gone"), res(1, 200, ""), res(2, 500, "")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.WebhookGet(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.DisabledReason != "410 Gone" {
		t.Errorf("got enabled %v reason %q, want disabled for 410 Gone", got.Enabled, got.DisabledReason)
	}
	if got.LastSuccessOn == nil || !got.LastSuccessOn.Equal(t0.Add(time.Second)) {
		t.Errorf("got last success %v, want %v", got.LastSuccessOn, t0.Add(time.Second))
	}
	if got.LastFailureOn == nil || !got.LastFailureOn.Equal(t0.Add(2*time.Second)) || got.LastFailureContent != "e2" {
		t.Errorf("got last failure %v %q, want %v e2", got.LastFailureOn, got.LastFailureContent, t0.Add(2*time.Second))
	}
	if got.LastStatus != 500 {
		t.Errorf("got last status %d, want 500 (the last result)", got.LastStatus)
	}
}
