package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// TestBatchPublish: one request publishes many events, answered in order; a batch with one bad
// event stores nothing and names it.
func TestBatchPublish(t *testing.T) {
	forEachBackend(t, testBatchPublish)
}

func testBatchPublish(t *testing.T, db string) {
	env := servertest.Start(t, func(c *server.Config) { c.DB = db })
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	rcA, rcB := newReceiver(t, nil), newReceiver(t, nil)
	var a, b webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "a", "uri": rcA.URL, "secretKey": secretA, "enabled": true, "triggers": 128}, &a)
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "b", "uri": rcB.URL, "secretKey": secretB, "enabled": true, "triggers": 0}, &b)

	bad := []map[string]any{
		{"trigger": "file.created", "payload": map[string]any{"n": 0}},
		{"trigger": "file.created", "payload": map[string]any{"n": 1}},
		{"trigger": "file.created", "payload": map[string]any{"n": 2}},
		{"trigger": "no.such.trigger", "payload": map[string]any{"n": 3}},
	}
	code, env400 := api.do("POST", "/api/2.0/webhooks/events/batch", map[string]any{"events": bad})
	if code != 400 || env400.Error == nil || !strings.Contains(env400.Error.Message, "events[3]") {
		t.Fatalf("a batch with a bad event: got %d %+v, want 400 naming events[3]", code, env400.Error)
	}
	if rows := api.logOf(a.ID); len(rows) != 0 {
		t.Fatalf("the refused batch stored %d deliveries, want none", len(rows))
	}

	const n = 50
	events := make([]map[string]any, n)
	for i := range events {
		trigger := "file.created"
		if i%2 == 1 {
			trigger = "file.deleted"
		}
		events[i] = map[string]any{"trigger": trigger, "payload": map[string]any{"id": i}}
	}
	var out struct {
		Events []struct {
			EventID    int64 `json:"eventId"`
			Deliveries []struct {
				ID       int64 `json:"id"`
				ConfigID int64 `json:"configId"`
			} `json:"deliveries"`
		} `json:"events"`
	}
	api.ok(202, "POST", "/api/2.0/webhooks/events/batch", map[string]any{"events": events}, &out)
	if len(out.Events) != n {
		t.Fatalf("got %d published events, want %d", len(out.Events), n)
	}
	for i, ev := range out.Events {
		want := 2 // file.created goes to a and b
		if i%2 == 1 {
			want = 1 // file.deleted only to b
		}
		if len(ev.Deliveries) != want || (i > 0 && ev.EventID <= out.Events[i-1].EventID) {
			t.Errorf("event %d: got id %d with %d deliveries, want ids rising and %d deliveries", i, ev.EventID, len(ev.Deliveries), want)
		}
	}
	servertest.Eventually(t, 20*time.Second, "every delivery arrives", func() bool {
		return len(rcA.Hits()) == n/2 && len(rcB.Hits()) == n
	})
}
