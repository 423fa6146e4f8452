package bench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// TestSmoke runs the whole benchmark in a small configuration, so that it cannot rot. It
// checks that each run completes and reports sane figures, never how fast anything was.
func TestSmoke(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	t.Run("EndToEndWithFailingAndSlowWebhooks", func(t *testing.T) {
		t.Parallel()
		rep, err := bench.Run(ctx, bench.Config{Events: 200, Webhooks: 4, FailShare: 0.25, SlowHooks: 1,
			Slow: 10 * time.Millisecond, Concurrency: 8, RetrySchedule: "100ms,100ms", Timeout: 2 * time.Minute,
			TempDir: t.TempDir(), Exec: selfExec(t)})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkRun(t, "hookd", rep.Hookd, 800, true)
		checkRun(t, "baseline", rep.Baseline, 800, true)
		if rep.Hookd.Publish == nil || rep.Hookd.Publish.Accepted != 200 || rep.Hookd.Publish.Rate <= 0 {
			t.Errorf("got publish %+v, want 200 accepted at a positive rate", rep.Hookd.Publish)
		}
		if rep.Hookd.SlowLatency == nil || rep.Hookd.SlowLatency.Count != 200 {
			t.Errorf("got slow latency %+v, want 200 deliveries", rep.Hookd.SlowLatency)
		}
		if rep.Ratio <= 0 {
			t.Errorf("got ratio %g, want > 0", rep.Ratio)
		}
		var table bytes.Buffer
		if err := rep.WriteTable(&table); err != nil {
			t.Fatalf("WriteTable: %v", err)
		}
		if !strings.Contains(table.String(), "hookd/baseline:") {
			t.Errorf("table has no ratio line:\n%s", table.String())
		}
	})

	t.Run("StrugglingWebhook", func(t *testing.T) {
		t.Parallel()
		rep, err := bench.Run(ctx, bench.Config{Events: 100, Webhooks: 2, StruggleHooks: 1, StruggleCap: 2,
			Concurrency: 8, RetrySchedule: "100ms", Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkRun(t, "hookd", rep.Hookd, 200, true)
		checkRun(t, "baseline", rep.Baseline, 200, true)
		if rep.Scenario.Struggling != 1 || rep.Scenario.StruggleCap != 2 {
			t.Errorf("got scenario %+v, want 1 struggling webhook with cap 2", rep.Scenario)
		}
		for side, r := range map[string]*bench.RunResult{"hookd": rep.Hookd, "baseline": rep.Baseline} {
			checkStruggle(t, side, r.Struggle, 2)
		}
		var table bytes.Buffer
		if err := rep.WriteTable(&table); err != nil {
			t.Fatalf("WriteTable: %v", err)
		}
		if !strings.Contains(table.String(), "struggling: peak in flight") {
			t.Errorf("table has no struggling rows:\n%s", table.String())
		}
	})

	t.Run("BatchPublish", func(t *testing.T) {
		t.Parallel()
		rep, err := bench.Run(ctx, bench.Config{Events: 250, Webhooks: 2, Batch: 100, Concurrency: 4,
			Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkRun(t, "hookd", rep.Hookd, 500, true)
		if p := rep.Hookd.Publish; p == nil || p.Accepted != 250 || p.Latency.Count != 3 {
			t.Errorf("got publish %+v, want 250 events accepted in 3 requests", p)
		}
		if rep.Scenario.Batch != 100 || rep.Ratio <= 0 {
			t.Errorf("got batch %d, ratio %g; want 100 and a positive ratio", rep.Scenario.Batch, rep.Ratio)
		}
	})

	t.Run("BacklogDrain", func(t *testing.T) {
		t.Parallel()
		rep, err := bench.Run(ctx, bench.Config{Events: 200, Backlog: true, Concurrency: 8, NoBaseline: true,
			Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkRun(t, "hookd", rep.Hookd, 200, false)
		if rep.Hookd.RecordedPerSec <= 0 || rep.Hookd.Generated <= 0 {
			t.Errorf("got recorded %g/s, generated in %s; want both positive", rep.Hookd.RecordedPerSec, rep.Hookd.Generated)
		}
		if rep.Baseline != nil {
			t.Errorf("got a baseline with NoBaseline")
		}
	})

	t.Run("QueryAndRetryByFilter", func(t *testing.T) {
		t.Parallel()
		rep, err := bench.Query(ctx, bench.QueryConfig{Size: 2000, Repeat: 2, LiveRate: 50, LiveWindow: time.Second,
			Concurrency: 8, Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		if len(rep.Listings) != 5 {
			t.Fatalf("got %d listings, want 5", len(rep.Listings))
		}
		for _, l := range rep.Listings {
			if l.Latency.Count != 2 || l.Latency.P50 <= 0 || l.First <= 0 {
				t.Errorf("listing %q: got %+v and first %v, want 2 positive timings after a first request", l.Name, l.Latency, l.First)
			}
		}
		if first := rep.Listings[0]; first.Rows != 100 || first.Total < 2000 {
			t.Errorf("unfiltered first page: got %d rows of %d, want 100 of at least 2000", first.Rows, first.Total)
		}
		if rep.RetryIDs.Count == 0 || rep.RetryIDs.P50 <= 0 {
			t.Errorf("got retry timings %+v, want some", rep.RetryIDs)
		}
		rf := rep.RetryByFilter
		if rf.Deliveries != 200 || rf.Command <= 0 || rf.Drained <= 0 {
			t.Errorf("got retry by filter %+v, want 200 deliveries with positive durations", rf)
		}
		if rf.LiveBefore.Count == 0 || rf.LiveBefore.P95 <= 0 {
			t.Errorf("got live latency before %+v, want some events", rf.LiveBefore)
		}
		if rep.DiskBytes <= 0 || rep.Generated <= 0 || rep.Server.PeakRSS <= 0 {
			t.Errorf("got disk %d bytes, generated in %s, server RSS %d; want all positive", rep.DiskBytes, rep.Generated, rep.Server.PeakRSS)
		}
	})
}

// checkRun checks that a run delivered everything and reports non-zero figures. Deliveries
// held by a paused webhook (a receiver that keeps failing) count as done: they are not lost,
// they wait for the webhook to resume.
func checkRun(t *testing.T, side string, r *bench.RunResult, want int64, latency bool) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no result", side)
	}
	if r.Deliveries+r.Held != want || r.Deliveries == 0 {
		t.Errorf("%s: got %d deliveries and %d held, want %d in all, some delivered", side, r.Deliveries, r.Held, want)
	}
	if r.Duration <= 0 || r.DeliveriesPerSec <= 0 {
		t.Errorf("%s: got %d deliveries in %s (%g/s), want a positive duration and rate", side, r.Deliveries, r.Duration, r.DeliveriesPerSec)
	}
	if r.Process.PeakRSS <= 0 {
		t.Errorf("%s: got peak RSS %d, want > 0", side, r.Process.PeakRSS)
	}
	if latency && (r.Latency.Count == 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99) {
		t.Errorf("%s: got latency %+v, want positive percentiles in order", side, r.Latency)
	}
}

// checkStruggle checks the figures of a run with one struggling webhook: every first attempt
// reached it, so it saw requests and a peak, and no more 503s than requests. How many 503s
// depends on timing, so it is not checked.
func checkStruggle(t *testing.T, side string, s *bench.StruggleResult, limit int) {
	t.Helper()
	switch {
	case s == nil:
		t.Errorf("%s: no struggle figures", side)
	case s.Cap != limit || len(s.Hooks) != 1:
		t.Errorf("%s: got cap %d over %d webhooks, want cap %d over 1", side, s.Cap, len(s.Hooks), limit)
	case s.Requests < 100 || s.PeakInflight < 1 || s.Status503 > s.Requests || s.Share503 < 0 || s.Share503 > 1:
		t.Errorf("%s: got %+v, want at least 100 requests, a peak, 503s among them", side, s)
	}
}

// TestSmokePostgres runs the backlog drain and the query benchmark on PostgreSQL, which
// exercises that backend's generating SQL. It needs TEST_DATABASE_URL (see pgtest).
func TestSmokePostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	db := pgtest.TestURL(t)
	rep, err := bench.Run(ctx, bench.Config{DB: db, Events: 200, Webhooks: 2, Backlog: true, Concurrency: 8,
		NoBaseline: true, Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkRun(t, "hookd", rep.Hookd, 400, false)
	// The same database again: the webhooks of the first run are replaced.
	qrep, err := bench.Query(ctx, bench.QueryConfig{DB: db, Size: 2000, Repeat: 2, LiveRate: 50, LiveWindow: time.Second,
		Concurrency: 8, Timeout: 2 * time.Minute, TempDir: t.TempDir(), Exec: selfExec(t)})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if first := qrep.Listings[0]; first.Rows != 100 || first.Total != 2000 {
		t.Errorf("unfiltered first page: got %d rows of %d, want 100 of 2000", first.Rows, first.Total)
	}
	if got := qrep.RetryByFilter.Deliveries; got != 200 {
		t.Errorf("got %d deliveries retried by filter, want 200", got)
	}
}
