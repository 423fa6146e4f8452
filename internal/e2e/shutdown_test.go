package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/servertest"
)

// TestGracefulShutdown sends SIGTERM to a hookd binary while a slow receiver has attempts in
// flight, and checks that the process exits 0 within the grace period, that every attempt the
// receiver started was completed (none cut off) and recorded (none lost), that no delivery is
// left claimed, and that after a restart everything is delivered exactly once.
func TestGracefulShutdown(t *testing.T) {
	forEachBackend(t, testGracefulShutdown)
}

func testGracefulShutdown(t *testing.T, db string) {
	const (
		events = 60
		grace  = 10 * time.Second
	)
	var started, completed, cutOff atomic.Int64
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-time.After(300 * time.Millisecond):
			completed.Add(1)
		case <-r.Context().Done():
			cutOff.Add(1) // hookd hung up before the answer
		}
	})

	key := hookd.NewKeySecret()
	env := map[string]string{
		"HOOKD_DB":               db,
		"HOOKD_ADMIN_KEY":        key,
		"HOOKD_ALLOWED_NETWORKS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":   "100ms,200ms",
		"HOOKD_ATTEMPT_TIMEOUT":  "5s",
		"HOOKD_CONCURRENCY":      "8",
		"HOOKD_SHUTDOWN_GRACE":   grace.String(),
		"HOOKD_LOG_LEVEL":        "info",
	}
	n1 := startNode(t, env)
	api := &apiClient{t: t, url: n1.URL, key: key}
	api.ok(200, "POST", "/api/2.0/settings/webhook", map[string]any{"name": "slow", "uri": rc.URL, "secretKey": "shutdown-secret", "enabled": true}, nil)
	for i := range events {
		api.ok(202, "POST", "/api/2.0/webhooks/events", map[string]any{"trigger": "file.created", "payload": map[string]any{"id": i}}, nil)
	}
	servertest.Eventually(t, 20*time.Second, "attempts under way", func() bool { return started.Load() >= 10 })

	sent := time.Now()
	if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-n1.done:
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("hookd did not exit within the %s grace after SIGTERM", grace)
	}
	took := time.Since(sent)
	if code := n1.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("hookd exited with %d after SIGTERM, want 0", code)
	}
	if took > grace {
		t.Errorf("hookd took %s to stop, more than the %s grace", took, grace)
	}
	atStop := started.Load()
	if atStop >= events {
		t.Fatalf("all %d events were sent before the SIGTERM: the test did not stop hookd mid-run", events)
	}
	if c := cutOff.Load(); c != 0 {
		t.Errorf("%d attempts were cut off by the shutdown, want none", c)
	}
	if s, c := started.Load(), completed.Load(); s != c {
		t.Errorf("receiver started %d requests and completed %d: want every one finished", s, c)
	}

	// Before any other node runs, the database holds exactly what the receiver saw.
	ctx := context.Background()
	store, err := server.OpenStore(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := store.DeliveryList(ctx, hookd.DeliveryFilter{})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, d := range ds {
		recorded += d.Attempts
		if d.State == hookd.DeliveryStateInflight {
			t.Errorf("delivery %d left in flight after a clean shutdown, want it released", d.ID)
		}
	}
	if int64(recorded) != atStop {
		t.Errorf("the receiver got %d requests before the stop, the database recorded %d attempts", atStop, recorded)
	}
	if !strings.Contains(n1.Logs(), `"msg":"hookd stopped"`) {
		t.Errorf("no \"hookd stopped\" in the logs:\n%s", n1.Logs())
	}

	n2 := startNode(t, env)
	api.url = n2.URL
	servertest.Eventually(t, 30*time.Second, fmt.Sprintf("all %d events delivered after the restart", events), func() bool {
		var rows []logDTO
		env := api.ok(200, "GET", "/api/2.0/settings/webhooks/log?groupStatus=Status2xx&count=100", nil, &rows)
		return env.Total != nil && *env.Total == events
	})
	var rows []logDTO
	api.ok(200, "GET", "/api/2.0/settings/webhooks/log?count=100", nil, &rows)
	attempts := 0
	for _, d := range rows {
		attempts += d.Attempts
	}
	if got := len(rc.Hits()); got != events || attempts != events {
		t.Errorf("got %d requests and %d recorded attempts for %d events, want one each", got, attempts, events)
	}
}
