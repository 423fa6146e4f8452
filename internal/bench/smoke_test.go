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
			if l.Latency.Count != 2 || l.Latency.P50 <= 0 {
				t.Errorf("listing %q: got %+v, want 2 positive timings", l.Name, l.Latency)
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

// checkRun checks that a run delivered everything and reports non-zero figures.
func checkRun(t *testing.T, side string, r *bench.RunResult, want int64, latency bool) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no result", side)
	}
	if r.Deliveries != want {
		t.Errorf("%s: got %d deliveries, want %d", side, r.Deliveries, want)
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
