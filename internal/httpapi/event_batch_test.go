package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/httpapi"
)

// batchResult mirrors the batch publish answer.
type batchResult struct {
	Events []publishResult
}

// batchBody returns a batch of n events whose payload ids are 1..n.
func batchBody(n int) string {
	events := make([]string, n)
	for i := range events {
		events[i] = fmt.Sprintf(`{"trigger":"file.created","payload":{"id":%d}}`, i+1)
	}
	return `{"events":[` + strings.Join(events, ",") + `]}`
}

func TestEventPublishBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	all := f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	target := f.createWebhook(&f.admin, "target", "https://example.com/target", 128, `,"targetId":"42"`)
	ordered := f.createWebhook(&f.admin, "ordered", "https://example.com/ordered", 0, `,"ordered":true`)

	wakes := f.wakes.Load()
	var got batchResult
	a := f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", `{"Events":[
		{"trigger":"file.created","payload":{"id":42}},
		{"trigger":256,"payload":"plain","targetId":7,"orderingKey":"folder-1"},
		{"trigger":"file.created","payload":{"id":42},"orderingKey":""}
	]}`).ok(t, 202, &got)
	if *a.Count != 1 || len(got.Events) != 3 {
		t.Fatalf("got %s, want three answers in one object", a.Response)
	}
	if n := f.wakes.Load() - wakes; n != 1 {
		t.Errorf("got %d wakes, want one for the whole batch", n)
	}
	want := []struct {
		trigger int64
		configs []int64
		key     string // ordering key of the ordered webhook's delivery
	}{
		{128, []int64{all.ID, target.ID, ordered.ID}, "42"},
		{256, []int64{all.ID, ordered.ID}, "folder-1"},
		{128, []int64{all.ID, target.ID, ordered.ID}, ""},
	}
	for i, ev := range got.Events {
		var configs []int64
		for _, d := range ev.Deliveries {
			configs = append(configs, d.ConfigID)
		}
		if i > 0 && ev.EventID <= got.Events[i-1].EventID {
			t.Errorf("events[%d]: got event id %d after %d, want the request's order", i, ev.EventID, got.Events[i-1].EventID)
		}
		if ev.Trigger != want[i].trigger || !slices.Equal(configs, want[i].configs) {
			t.Errorf("events[%d]: got trigger %d to %v, want %d to %v", i, ev.Trigger, configs, want[i].trigger, want[i].configs)
			continue
		}
		d, err := f.store.DeliveryGet(f.ctx, ev.Deliveries[len(ev.Deliveries)-1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.OrderingKey != want[i].key {
			t.Errorf("events[%d]: got ordering key %q on the ordered webhook, want %q", i, d.OrderingKey, want[i].key)
		}
	}

	// The largest batch goes through in one request.
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", batchBody(hookd.MaxPublishBatch)).ok(t, 202, &got)
	if len(got.Events) != hookd.MaxPublishBatch {
		t.Errorf("got %d answers, want %d", len(got.Events), hookd.MaxPublishBatch)
	}
}

func TestEventPublishBatchRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createWebhook(&f.admin, "all", "https://example.com/all", 0, "")
	_, stored := f.logIDs(&f.admin, "")
	bad := []struct{ name, body, msg string }{
		{"Empty", `{"events":[]}`, "events are required"},
		{"Missing", `{}`, "events are required"},
		{"TooMany", batchBody(hookd.MaxPublishBatch + 1), "at most 1000"},
		{"NotArray", `{"events":{"trigger":128}}`, "events has the wrong type"},
		{"InvalidEvent", `{"events":[{"trigger":128,"payload":1},{"trigger":128,"payload":2},{"payload":3}]}`, "events[2]: The trigger is required"},
		{"EventNotObject", `{"events":[{"trigger":128,"payload":1},7]}`, "events[1]: Malformed event"},
		{"EventFieldType", `{"events":[{"trigger":128,"payload":1,"createBy":5}]}`, "events[0]: The value of createBy has the wrong type"},
		{"BadOrderingKey", `{"events":[{"trigger":128,"payload":1,"orderingKey":[1]}]}`, "events[0]: The value of orderingKey"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", tt.body).fails(t, 400, tt.msg)
		})
	}
	if _, total := f.logIDs(&f.admin, ""); total != stored {
		t.Errorf("got %d deliveries after refused batches, want %d: nothing stored", total, stored)
	}
}

func TestEventPublishOrderingKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createWebhook(&f.admin, "ordered", "https://example.com/ordered", 0, `,"ordered":true`)
	tests := []struct{ name, fields, key string }{
		{"DefaultPayloadID", ``, "42"},
		{"DefaultTargetID", `,"targetId":"t-9"`, "t-9"},
		{"String", `,"orderingKey":"folder-1"`, "folder-1"},
		{"Number", `,"orderingKey":1234567890123`, "1234567890123"},
		{"NullIsDefault", `,"orderingKey":null`, "42"},
		{"EmptyIsUnordered", `,"orderingKey":""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p publishResult
			f.do(&f.admin, "POST", "/api/2.0/webhooks/events", `{"trigger":128,"payload":{"id":42}`+tt.fields+`}`).ok(t, 202, &p)
			d, err := f.store.DeliveryGet(f.ctx, p.Deliveries[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.OrderingKey != tt.key || d.Event.OrderingKey != tt.key {
				t.Errorf("got ordering key %q (event %q), want %q", d.OrderingKey, d.Event.OrderingKey, tt.key)
			}
		})
	}
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", `{"trigger":128,"payload":{},"orderingKey":true}`).fails(t, 400, "orderingKey has the wrong type")
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", `{"trigger":128,"payload":{},"orderingKey":"`+strings.Repeat("k", 256)+`"}`).fails(t, 400, "orderingKey must be at most 255")
}

func TestEventPublishBatchLimits(t *testing.T) {
	t.Parallel()
	var backlog atomic.Int64
	f := newFixture(t, func(c *httpapi.Config) {
		c.MaxBodyBytes = 4 << 10
		c.MaxBatchBodyBytes = 32 << 10
		c.MaxBacklog = 10
		c.Backlog = func(context.Context) (int64, error) { return backlog.Load(), nil }
	})
	event := func(size int) string {
		return fmt.Sprintf(`{"trigger":128,"payload":{"id":1,"text":%q}}`, strings.Repeat("x", size))
	}
	batch := func(events ...string) string { return `{"events":[` + strings.Join(events, ",") + `]}` }

	// Five events of 3 KiB: over the single publish's limit together, within the batch's.
	five := batch(event(3<<10), event(3<<10), event(3<<10), event(3<<10), event(3<<10))
	var got batchResult
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", five).ok(t, 202, &got)
	if len(got.Events) != 5 {
		t.Errorf("got %d answers, want 5", len(got.Events))
	}
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events", five).fails(t, 413, "larger than 4096 bytes")
	// Each event is held to the single publish's limit, the whole to the batch's.
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", batch(event(10), event(5<<10))).fails(t, 400, "events[1]: The event is larger than 4096 bytes")
	f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", batch(slices.Repeat([]string{event(3 << 10)}, 11)...)).fails(t, 413, "larger than 32768 bytes")

	// A full backlog refuses the batch as it refuses a single publish.
	backlog.Store(10)
	a := f.do(&f.admin, "POST", "/api/2.0/webhooks/events/batch", batch(event(1)))
	a.fails(t, 503, "publishing is paused")
	if got := a.header.Get("Retry-After"); got != "5" {
		t.Errorf("got Retry-After %q, want 5", got)
	}
}
