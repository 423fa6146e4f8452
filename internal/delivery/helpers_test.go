package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// newTestStore opens a migrated SQLite store in a temporary directory.
func newTestStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "hookd.db"), nil)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

// syncBuffer is a log sink safe for the worker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testWorker is a worker running on a store until Stop or the end of the test.
type testWorker struct {
	*delivery.Worker
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // what Run returned, once done is closed
}

// startWorker runs a worker that may reach loopback receivers. Unless cfg says otherwise it
// polls every 10 s, so that a test finishing sooner shows that Wake and the next due time,
// not polling, drove the deliveries.
func startWorker(tb testing.TB, store delivery.Store, cfg delivery.Config, scfg delivery.SenderConfig) *testWorker {
	tb.Helper()
	return startWorkerWith(tb, store, cfg, newTestSender(tb, scfg))
}

// startWorkerWith is startWorker with a sender of the test's own.
func startWorkerWith(tb testing.TB, store delivery.Store, cfg delivery.Config, sender *delivery.Sender) *testWorker {
	tb.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.Schedule == nil {
		cfg.Schedule = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := delivery.NewWorker(store, sender, nil, logger, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{Worker: w, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tw.done)
		tw.err = w.Run(ctx)
	}()
	tb.Cleanup(func() {
		tw.Stop(tb, 30*time.Second)
		if tb.Failed() {
			tb.Logf("worker logs:\n%s", logs)
		}
		if strings.Contains(logs.String(), testSecret) {
			tb.Errorf("the logs show the webhook secret:\n%s", logs)
		}
		if strings.Contains(logs.String(), "sha256=") {
			tb.Errorf("the logs show a signature:\n%s", logs)
		}
	})
	return tw
}

// Stop cancels the worker's context and waits up to within for Run to return.
func (w *testWorker) Stop(tb testing.TB, within time.Duration) {
	tb.Helper()
	w.cancel()
	select {
	case <-w.done:
		if w.err != nil {
			tb.Errorf("run: %v", w.err)
		}
	case <-time.After(within):
		tb.Fatalf("worker did not stop within %s", within)
	}
}

// createWebhook stores an enabled webhook to uri that receives every event.
func createWebhook(tb testing.TB, store hookd.Store, uri string) *hookd.Webhook {
	tb.Helper()
	w, err := store.WebhookCreate(context.Background(), &hookd.Webhook{
		Name: "receiver", URI: uri, Secret: testSecret, Enabled: true,
	})
	if err != nil {
		tb.Fatalf("create webhook: %v", err)
	}
	return w
}

// publish stores n file.created events and returns their deliveries.
func publish(tb testing.TB, store hookd.Store, n int) []*hookd.Delivery {
	tb.Helper()
	var all []*hookd.Delivery
	for i := range n {
		payload, _ := json.Marshal(map[string]any{"id": i + 1, "title": "file.docx"})
		_, ds, err := store.EventPublish(context.Background(), &hookd.EventPublishParams{
			Trigger: 1 << 7, Payload: payload, CreatedBy: "0b8c0000-0000-4000-8000-000000000001",
		})
		if err != nil {
			tb.Fatalf("publish: %v", err)
		}
		all = append(all, ds...)
	}
	return all
}

// waitState polls until every delivery is in state want, failing after 10 s.
func waitState(tb testing.TB, store hookd.Store, want hookd.DeliveryState, ds ...*hookd.Delivery) []*hookd.Delivery {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := make([]*hookd.Delivery, len(ds))
		all := true
		for i, d := range ds {
			g, err := store.DeliveryGet(context.Background(), d.ID)
			if err != nil {
				tb.Fatalf("get delivery %d: %v", d.ID, err)
			}
			got[i] = g
			all = all && g.State == want
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			for _, g := range got {
				tb.Errorf("delivery %d: got state %s after %d attempts (status %d, error %q), want %s",
					g.ID, g.State, g.Attempts, g.Status, g.LastError, want)
			}
			tb.FailNow()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// attempts returns the recorded attempts of a delivery.
func attempts(tb testing.TB, store hookd.Store, id int64) []*hookd.Attempt {
	tb.Helper()
	as, err := store.AttemptList(context.Background(), id)
	if err != nil {
		tb.Fatalf("list attempts of %d: %v", id, err)
	}
	return as
}
