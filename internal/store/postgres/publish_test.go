package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

func TestPublishBatchKeepsOrder(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	ordered := orderedWebhook(t, s, "ordered")
	paused := mustWebhook(t, s, "paused")
	setHealth(t, s, paused.ID, "", hookd.HealthPaused, hookd.NeverProbe)
	created, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "created", URI: "https://example.com/c", Secret: "s3cret-value",
		Enabled: true, Triggers: 1 << 7})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*hookd.EventPublishParams
	for i := range hookd.MaxPublishBatch {
		ps = append(ps, &hookd.EventPublishParams{
			Trigger: hookd.Trigger(1 << (7 + i%2)), Payload: fmt.Appendf(nil, `{"n": %d}`, i),
			TargetID: fmt.Sprint(i % 3), OrderingKey: fmt.Sprint("k", i%7), CreatedBy: "u1", UserID: "u2",
		})
	}
	pubs, err := s.EventPublishBatch(ctx, ps)
	if err != nil {
		t.Fatalf("EventPublishBatch: %v", err)
	}
	if len(pubs) != len(ps) {
		t.Fatalf("got %d events, want %d", len(pubs), len(ps))
	}
	var lastEvent, lastDelivery int64
	for i, pub := range pubs {
		p, ev := ps[i], pub.Event
		if ev.ID <= lastEvent || string(ev.Payload) != string(p.Payload) || ev.OrderingKey != p.OrderingKey ||
			ev.TargetID != p.TargetID || ev.Trigger != p.Trigger {
			t.Fatalf("event %d: got %+v after id %d, want the input's, with a higher id", i, ev, lastEvent)
		}
		lastEvent = ev.ID
		want := []int64{ordered.ID, paused.ID}
		if i%2 == 0 {
			want = append(want, created.ID)
		}
		if len(pub.Deliveries) != len(want) {
			t.Fatalf("event %d: got %d deliveries, want %d", i, len(pub.Deliveries), len(want))
		}
		for j, d := range pub.Deliveries {
			wantKey, wantState := "", hookd.DeliveryStatePending
			switch d.WebhookID {
			case ordered.ID:
				wantKey = p.OrderingKey
			case paused.ID:
				wantState = hookd.DeliveryStateHeld
			}
			if d.WebhookID != want[j] || d.ID <= lastDelivery || d.OrderingKey != wantKey || d.State != wantState {
				t.Fatalf("event %d delivery %d: got webhook %d id %d key %q state %s after id %d, want webhook %d key %q state %s",
					i, j, d.WebhookID, d.ID, d.OrderingKey, d.State, lastDelivery, want[j], wantKey, wantState)
			}
			lastDelivery = d.ID
		}
	}
	// What the batch returned is what is stored.
	for _, i := range []int{0, 1, 499, 999} {
		for _, d := range pubs[i].Deliveries {
			got, err := s.DeliveryGet(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("event %d delivery %d: returned and stored differ (-returned +stored):\n%s", i, d.ID, diff)
			}
		}
	}
}

func TestPublishBatchRejectsAsAWhole(t *testing.T) {
	t.Parallel()
	s := pgtest.OpenTest(t, nil)
	ctx := context.Background()
	mustWebhook(t, s, "a")
	good := func() *hookd.EventPublishParams {
		return &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(`{}`)}
	}
	badTrigger, badJSON := good(), good()
	badTrigger.Trigger = 3
	badJSON.Payload = []byte(`{`)
	// A NUL byte passes the checks and is refused by PostgreSQL: the statement fails as a whole.
	badText := good()
	badText.CreatedBy = "a\x00b"
	for _, tc := range []struct {
		name string
		ps   []*hookd.EventPublishParams
		code string
		msg  string
	}{
		{"Trigger", []*hookd.EventPublishParams{good(), good(), good(), badTrigger}, hookd.EINVALID, "events[3]: "},
		{"JSON", []*hookd.EventPublishParams{badJSON, good()}, hookd.EINVALID, "events[0]: "},
		{"TooMany", slicesRepeat(good, hookd.MaxPublishBatch+1), hookd.EINVALID, "at most 1000"},
		{"Database", []*hookd.EventPublishParams{good(), badText, good()}, hookd.EINTERNAL, ""},
	} {
		out, err := s.EventPublishBatch(ctx, tc.ps)
		if hookd.ErrorCode(err) != tc.code || !strings.Contains(hookd.ErrorMessage(err), tc.msg) || out != nil {
			t.Errorf("%s: got %d events, %v, want %s naming %q", tc.name, len(out), err, tc.code, tc.msg)
		}
	}
	if _, total, err := s.DeliveryList(ctx, hookd.DeliveryFilter{}); err != nil || total != 0 {
		t.Errorf("got %d deliveries, %v, want none stored by rejected batches", total, err)
	}
	if out, err := s.EventPublishBatch(ctx, nil); err != nil || len(out) != 0 {
		t.Errorf("got %v, %v for an empty batch, want nothing", out, err)
	}
}

func slicesRepeat(f func() *hookd.EventPublishParams, n int) []*hookd.EventPublishParams {
	out := make([]*hookd.EventPublishParams, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// TestConcurrentPublishesFailAlone publishes from many goroutines at once, so that calls
// share transactions; the events PostgreSQL refuses fail their own call only.
func TestConcurrentPublishesFailAlone(t *testing.T) {
	t.Parallel()
	s := pgtest.OpenTest(t, nil)
	ctx := context.Background()
	mustWebhook(t, s, "a")
	const n = 64
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		good = map[int64]string{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &hookd.EventPublishParams{Trigger: 1 << 7, Payload: fmt.Appendf(nil, `{"n":%d}`, i), UserID: "u1"}
			if i%8 == 3 {
				p.CreatedBy = "nul\x00"
			}
			ev, ds, err := s.EventPublish(ctx, p)
			switch {
			case i%8 == 3 && err == nil:
				t.Errorf("publish %d: got no error for a NUL byte, want one", i)
			case i%8 != 3 && (err != nil || len(ds) != 1 || string(ev.Payload) != string(p.Payload)):
				t.Errorf("publish %d: got %v, %d deliveries, want its own event published", i, err, len(ds))
			case err == nil:
				mu.Lock()
				good[ds[0].ID] = string(p.Payload)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ds, total, err := s.DeliveryList(ctx, hookd.DeliveryFilter{})
	if err != nil || total != int64(n-n/8) {
		t.Fatalf("got %d deliveries, %v, want %d", total, err, n-n/8)
	}
	for _, d := range ds {
		if good[d.ID] != string(d.Event.Payload) {
			t.Errorf("delivery %d: got payload %s, want %s", d.ID, d.Event.Payload, good[d.ID])
		}
	}
}
