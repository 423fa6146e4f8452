package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
