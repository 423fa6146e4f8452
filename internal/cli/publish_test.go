package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/servertest"
)

func TestPublishPayloadSources(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "publish-secret", 200)
	createWebhook(t, e, rc, "files", "--triggers", "file.created,folder.downloaded")
	file := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(file, []byte(`{"id":7,"title":"from file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload, stdin, trigger, want string
	}{
		{"File", "@" + file, "", "file.created", `"title":"from file"`},
		{"Stdin", "-", `{"title":"from stdin"}`, "folder.downloaded", `"title":"from stdin"`},
		{"Inline", `{"title":"inline"}`, "", "128", `"title":"inline"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, e.URL, e.AdminKey, tt.stdin, "publish", "--trigger", tt.trigger, "--payload", tt.payload, "-o", "json")
			if r.code != ExitOK {
				t.Fatalf("exit %d: %q", r.code, r.stderr)
			}
			res := decodeJSON[client.PublishResult](t, r)
			if res.EventID == 0 || len(res.Deliveries) != 1 {
				t.Fatalf("got %+v, want an event with one delivery", res)
			}
			id := res.Deliveries[0].ID
			servertest.Eventually(t, 10*time.Second, "the receiver gets the event", func() bool { return rc.hitCount(id) == 1 })
			d, err := e.Store.DeliveryGet(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(d.Event.Payload), tt.want) {
				t.Errorf("stored payload %s, want it to contain %s", d.Event.Payload, tt.want)
			}
		})
	}
	t.Run("NotSubscribed", func(t *testing.T) {
		t.Parallel()
		r := mustRun(t, e, "publish", "--trigger", "room.created", "--payload", "{}")
		if !strings.Contains(r.stdout, "0 deliveries queued") {
			t.Errorf("got %q, want no delivery", r.stdout)
		}
	})
	if bad := rc.badSignatures(); bad != 0 {
		t.Errorf("receiver got %d bad signatures", bad)
	}
}

func TestPublishRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoTrigger", []string{"--payload", "{}"}, "--trigger"},
		{"MaskTrigger", []string{"--trigger", "384", "--payload", "{}"}, "give one trigger"},
		{"NoPayload", []string{"--trigger", "file.created"}, "--payload is required"},
		{"NotJSON", []string{"--trigger", "file.created", "--payload", "{nope"}, "not valid JSON"},
		{"MissingFile", []string{"--trigger", "file.created", "--payload", "@/nonexistent/x.json"}, "read --payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// No server is needed: the input is refused before any request.
			r := runCLI(t, "http://127.0.0.1:1", "sk-unused", "", append([]string{"publish"}, tt.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got exit %d %q, want %d and %q", r.code, r.stderr, ExitUsage, tt.want)
			}
		})
	}
}

// TestClientPublishBatch publishes through the client library's PublishBatch against a real
// server: results in order, ordering keys as given (nil: the target id; "": unordered), and a
// batch with one bad event refused whole, naming its index.
func TestClientPublishBatch(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "publish-secret", 200)
	createWebhook(t, e, rc, "files", "--triggers", "file.created")
	cl, err := client.New(e.URL, e.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	key, none := "doc-7", ""
	res, err := cl.PublishBatch(ctx, []client.PublishParams{
		{Trigger: client.TriggerFileCreated, Payload: []byte(`{"n":0}`), TargetID: "7", OrderingKey: &key},
		{Trigger: client.TriggerFileCreated, Payload: []byte(`{"n":1}`), TargetID: "8"},
		{Trigger: client.TriggerFileCreated, Payload: []byte(`{"n":2}`), TargetID: "9", OrderingKey: &none},
	})
	if err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results, want 3", len(res))
	}
	for i, want := range []struct{ payload, key string }{{`"n":0`, "doc-7"}, {`"n":1`, "8"}, {`"n":2`, ""}} {
		if len(res[i].Deliveries) != 1 {
			t.Fatalf("event %d: got %d deliveries, want 1", i, len(res[i].Deliveries))
		}
		d, err := e.Store.DeliveryGet(ctx, res[i].Deliveries[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(d.Event.Payload), want.payload) || d.Event.OrderingKey != want.key {
			t.Errorf("event %d: got payload %s ordering key %q, want %s and %q", i, d.Event.Payload, d.Event.OrderingKey, want.payload, want.key)
		}
	}
	_, err = cl.PublishBatch(ctx, []client.PublishParams{
		{Trigger: client.TriggerFileCreated, Payload: []byte(`{"n":3}`)},
		{Trigger: 0, Payload: []byte(`{"n":4}`)},
	})
	if err == nil || !strings.Contains(err.Error(), "events[1]") {
		t.Errorf("got error %v, want the bad event named events[1]", err)
	}
	if _, err := cl.PublishBatch(ctx, nil); err == nil {
		t.Error("an empty batch was sent, want it refused before sending")
	}
	ds, total, err := e.Store.DeliveryList(ctx, hookd.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 {
		t.Errorf("got %d deliveries stored (%d listed), want the 3 of the good batch only", total, len(ds))
	}
}
