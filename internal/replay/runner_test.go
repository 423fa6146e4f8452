package replay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/replay"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// TestMain fails the package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a SQLite store with failed deliveries, opened inside a synctest bubble so that
// the runner's timers run on the bubble's fake clock.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	store  *sqlite.Store
	failed []int64
}

// newFixture opens a store in t's temporary directory and fails n deliveries (status 500).
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"), nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	f := &fixture{t: t, ctx: ctx, store: s}
	if _, err := s.WebhookCreate(ctx, &hookd.Webhook{Name: "r", URI: "https://r.example/hook", Secret: "secret-1234",
		Enabled: true}); err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	for i := range n {
		_, ds, err := s.EventPublish(ctx, &hookd.EventPublishParams{Trigger: 1 << 7, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		f.failed = append(f.failed, ds[0].ID)
	}
	cs, err := s.DeliveryClaim(ctx, &hookd.DeliveryClaimParams{Limit: n, Lease: time.Minute})
	if err != nil || len(cs) != n {
		t.Fatalf("claim: got %d, %v, want %d", len(cs), err, n)
	}
	var rs []*hookd.AttemptResult
	for _, c := range cs {
		rs = append(rs, &hookd.AttemptResult{
			Attempt:    hookd.Attempt{DeliveryID: c.Delivery.ID, StartedAt: time.Now(), Status: 500, Error: "status 500"},
			ClaimToken: c.Token, Outcome: hookd.OutcomeFailed,
		})
	}
	if err := s.AttemptRecord(ctx, rs); err != nil {
		t.Fatalf("record: %v", err)
	}
	return f
}

// job creates a job over every failed delivery at rate deliveries per second.
func (f *fixture) job(rate int) *hookd.Replay {
	f.t.Helper()
	r, _, err := f.store.ReplayCreate(f.ctx, &hookd.ReplayParams{
		Filter: hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusFailed}, Rate: rate, Window: 1000, CreatedBy: "u"})
	if err != nil {
		f.t.Fatalf("ReplayCreate: %v", err)
	}
	return r
}

func (f *fixture) get(id int64) *hookd.Replay {
	f.t.Helper()
	r, err := f.store.ReplayGet(f.ctx, id)
	if err != nil {
		f.t.Fatalf("ReplayGet: %v", err)
	}
	return r
}

// retries counts, for each delivery, the deliveries that retry it.
func (f *fixture) retries() map[int64]int {
	f.t.Helper()
	ds, _, err := f.store.DeliveryList(f.ctx, hookd.DeliveryFilter{})
	if err != nil {
		f.t.Fatalf("DeliveryList: %v", err)
	}
	out := map[int64]int{}
	for _, d := range ds {
		if d.RetryOf != 0 {
			out[d.RetryOf]++
		}
	}
	return out
}

// start runs a runner until the returned stop is called; stop waits for Run to return.
func start(t *testing.T, s replay.Store, cfg replay.Config) (*replay.Runner, func()) {
	t.Helper()
	r := replay.New(s, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestRunnerKeepsTheJobsPace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 10)
		var woken atomic.Int64
		_, stop := start(t, f.store, replay.Config{Wake: func() { woken.Add(1) }})
		defer stop()
		synctest.Wait()  // the runner found nothing and waits for its next poll
		job := f.job(10) // one delivery every 100 ms
		// Nobody woke the runner: it finds the job at its next poll, within a second.
		time.Sleep(replay.DefaultPollInterval)
		synctest.Wait()
		got := f.get(job.ID)
		if got.State != hookd.ReplayStateRunning || got.Retried != 1 {
			t.Fatalf("after the poll: got %s with %d retried, want running with 1", got.State, got.Retried)
		}
		for want := int64(2); want <= 10; want++ {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			if got := f.get(job.ID); got.Retried != want {
				t.Fatalf("%d ms later: got %d retried, want %d", (want-1)*100, got.Retried, want)
			}
		}
		if got := f.get(job.ID); got.State != hookd.ReplayStateDone || got.FinishedOn == nil {
			t.Errorf("got %s, want done", got.State)
		}
		if n := woken.Load(); n != 10 {
			t.Errorf("the dispatcher was woken %d times, want once per step that created deliveries (10)", n)
		}
		for _, id := range f.failed {
			if n := f.retries()[id]; n != 1 {
				t.Errorf("delivery %d retried %d times, want once", id, n)
			}
		}
	})
}

func TestRunnerWakeStartsAJobAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 3)
		r, stop := start(t, f.store, replay.Config{PollInterval: time.Hour})
		defer stop()
		synctest.Wait()
		job := f.job(1000)
		r.Wake()
		synctest.Wait()
		if got := f.get(job.ID); got.State != hookd.ReplayStateDone || got.Retried != 3 {
			t.Errorf("got %s with %d retried, want done with 3 without waiting", got.State, got.Retried)
		}
	})
}

func TestRunnerResumesAfterRestart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 20)
		job := f.job(10)
		r, stop := start(t, f.store, replay.Config{})
		r.Wake()
		time.Sleep(450 * time.Millisecond)
		synctest.Wait()
		stop() // the node goes down mid-job
		mid := f.get(job.ID)
		if mid.State != hookd.ReplayStateRunning || mid.Retried != 5 {
			t.Fatalf("at the stop: got %s with %d retried, want running with 5", mid.State, mid.Retried)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := f.get(job.ID); got.Retried != 5 {
			t.Fatalf("with no runner: got %d retried, want still 5", got.Retried)
		}
		r, stop = start(t, f.store, replay.Config{})
		defer stop()
		r.Wake()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.get(job.ID); got.State != hookd.ReplayStateDone || got.Retried != 20 {
			t.Fatalf("after the restart: got %s with %d retried, want done with 20", got.State, got.Retried)
		}
		retries := f.retries()
		for _, id := range f.failed {
			if retries[id] != 1 {
				t.Errorf("delivery %d retried %d times across the restart, want once", id, retries[id])
			}
		}
	})
}

func TestRunnerStopsOnCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 30)
		job := f.job(10)
		r, stop := start(t, f.store, replay.Config{})
		defer stop()
		r.Wake()
		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		got, err := f.store.ReplayCancel(f.ctx, job.ID)
		if err != nil {
			t.Fatalf("ReplayCancel: %v", err)
		}
		if got.Retried != 3 || got.Cancelled != 27 {
			t.Fatalf("at the cancel: got %d retried, %d cancelled, want 3 and 27", got.Retried, got.Cancelled)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := f.get(job.ID); got.State != hookd.ReplayStateCancelled || got.Retried != 3 {
			t.Errorf("10 s after the cancel: got %s with %d retried, want cancelled with 3", got.State, got.Retried)
		}
		if n := len(f.retries()); n != 3 {
			t.Errorf("got %d deliveries retried, want 3", n)
		}
	})
}

// flakyStore fails its first calls, as a database that went away for a moment.
type flakyStore struct {
	replay.Store
	failures atomic.Int64
}

func (s *flakyStore) ReplayNextDue(ctx context.Context) (time.Time, error) {
	if s.failures.Add(-1) >= 0 {
		return time.Time{}, errors.New("connection refused")
	}
	return s.Store.ReplayNextDue(ctx)
}

func TestRunnerOutlivesStoreErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2)
		s := &flakyStore{Store: f.store}
		s.failures.Store(3)
		job := f.job(1000)
		_, stop := start(t, s, replay.Config{})
		defer stop()
		// Three failed looks, one a second, then the fourth works.
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if got := f.get(job.ID); got.State != hookd.ReplayStateQueued {
			t.Fatalf("during the outage: got %s, want the job untouched", got.State)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.get(job.ID); got.State != hookd.ReplayStateDone || got.Retried != 2 {
			t.Errorf("after the outage: got %s with %d retried, want done with 2", got.State, got.Retried)
		}
	})
}
