package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// TestReliabilitySettingsReachTheAPI checks that the server passes its backpressure and retry
// rate-limit settings through to the API: the behaviour itself is tested in httpapi.
func TestReliabilitySettingsReachTheAPI(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, func(c *server.Config) {
		c.MaxBacklog = 3
		c.RetryRateLimit = "2/1m"
	})
	api := &apiClient{t: t, url: env.URL, key: env.AdminKey}
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select { // keep deliveries in flight so the backlog stays
		case <-hold:
		case <-time.After(10 * time.Second):
		}
	})
	var wh webhookDTO
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "bp", "uri": rc.URL, "secretKey": "bp-secret-1", "enabled": true}, &wh)

	refused := false
	for i := 0; i < 50 && !refused; i++ {
		code, e := api.do("POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}})
		switch code {
		case 202:
			time.Sleep(50 * time.Millisecond) // the backlog count is cached for a second
		case 503:
			refused = true
			if e.Status != 1 || e.Error == nil {
				t.Errorf("503 without the DocSpace error shape: %+v", e)
			}
		default:
			t.Fatalf("publish: got %d, want 202 or 503", code)
		}
	}
	if !refused {
		t.Fatal("publishing was never refused with a backlog limit of 3")
	}

	var rows []logDTO
	api.ok(200, "GET", fmt.Sprintf("/api/2.0/settings/webhooks/log?configId=%d&count=1", wh.ID), nil, &rows)
	path := fmt.Sprintf("/api/2.0/settings/webhook/%d/retry", rows[0].ID)
	api.ok(200, "PUT", path, nil, nil)
	api.ok(200, "PUT", path, nil, nil)
	if code, _ := api.do("PUT", path, nil); code != http.StatusTooManyRequests {
		t.Errorf("third retry within the window of 2/1m: got %d, want 429", code)
	}
}
