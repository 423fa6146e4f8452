package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/servertest"
)

func TestRetryFailedSameKeyFindsTheSameReplay(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "key-secret", 500)
	createWebhook(t, e, rc, "down")
	publishN(t, newClient(t, e), 10)
	settled(t, e)

	first := decodeJSON[retryReport](t, mustRun(t, e, "retry", "--failed", "--idempotency-key", "nightly-7", "-o", "json"))
	if first.ReplayID == 0 || len(first.Retried) != 10 {
		t.Fatalf("first run: got replay %d with %d retried, want a job that retried 10", first.ReplayID, len(first.Retried))
	}
	before := len(deliveries(t, e, hookd.DeliveryFilter{}))
	// The same command again (a cron job retried, a lost connection): the same job, nothing new.
	again := decodeJSON[retryReport](t, mustRun(t, e, "retry", "--failed", "--idempotency-key", "nightly-7", "-o", "json"))
	if again.ReplayID != first.ReplayID || len(again.Retried) != 10 {
		t.Errorf("second run: got replay %d with %d retried, want replay %d's report again", again.ReplayID, len(again.Retried), first.ReplayID)
	}
	if after := len(deliveries(t, e, hookd.DeliveryFilter{})); after != before {
		t.Errorf("the second run made %d deliveries, want none", after-before)
	}
	jobs, total, err := e.Store.ReplayList(context.Background(), hookd.ReplayFilter{})
	if err != nil || total != 1 || jobs[0].IdempotencyKey != "nightly-7" || !jobs[0].ExcludeRetried {
		t.Errorf("got %d stored jobs (%v), want one with the key, excluding earlier retries", total, err)
	}
}

func TestRetryFailedInterruptCancelsTheReplay(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	rc := newReceiver(t, "slow-secret", 500)
	createWebhook(t, e, rc, "down")
	publishN(t, newClient(t, e), 20)
	settled(t, e)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"HOOKD_URL": e.URL, "HOOKD_KEY": e.AdminKey}
	var stdout, stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"retry", "--failed", "--rate", "2", "-o", "json"}, func(k string) string { return env[k] },
			strings.NewReader(""), &stdout, &stderr)
	}()
	var job *hookd.Replay
	servertest.Eventually(t, 20*time.Second, "the replay job re-sends a first delivery", func() bool {
		jobs, _, err := e.Store.ReplayList(context.Background(), hookd.ReplayFilter{})
		if err != nil || len(jobs) == 0 {
			return false
		}
		job = jobs[0]
		return job.Retried > 0
	})
	cancel() // Ctrl-C
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not end after the interrupt")
	}
	if code != ExitError || !strings.Contains(stderr.String(), "interrupted: replay") {
		t.Errorf("got exit %d, stderr %q; want %d and the cancel reported", code, stderr.String(), ExitError)
	}
	got, err := e.Store.ReplayGet(context.Background(), job.ID)
	if err != nil || got.State != hookd.ReplayStateCancelled || got.Retried == 20 || got.Cancelled == 0 {
		t.Fatalf("got job %+v (%v), want it cancelled part-way", got, err)
	}
	var rep retryReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if len(rep.Retried) != int(got.Retried) || len(rep.NotRetried) != int(got.Cancelled) || rep.ReplayID != job.ID {
		t.Errorf("got report of %d retried, %d not, want %d and %d as the job says", len(rep.Retried), len(rep.NotRetried), got.Retried, got.Cancelled)
	}
	// Cancelled means no further re-sends.
	links, _ := retryLinks(t, e)
	if len(links) != int(got.Retried) {
		t.Errorf("got %d deliveries retried, want the %d the job did before the cancel", len(links), got.Retried)
	}
}
