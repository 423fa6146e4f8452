package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/bench"
)

func newBenchCmd(a *app) *cobra.Command {
	var cfg bench.Config
	var output string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure hookd end to end against a plain Go HTTP client",
		Long: `Measure hookd: start a receiver on loopback (a separate process), run a baseline where a
plain Go HTTP client posts the delivery bodies straight to the receiver, then start hookd serve
on --db, publish the same events through the API (or, with --backlog, write them into the store
first and let the server drain them) and wait until the receiver has every delivery (but
those a paused webhook holds without an attempt, reported as held).

It prints the publish rate, deliveries per second, first-attempt latency from publish to
receipt (p50, p95, p99, max), CPU seconds and peak RSS of the server and of the baseline
client, and the ratio hookd/baseline. The default database is a new SQLite file in a temporary
directory; a PostgreSQL database must be empty or used only by earlier benchmark runs.

--batch B publishes through the batch endpoint, B events per request. --struggle-hooks S
makes S webhooks struggle: their receiver answers 503 when more than --struggle-cap requests
are in flight to it, and the report gives their peak in-flight count and 503 share beside the
healthy webhooks' latency (run it again without --struggle-hooks for the control).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return withExit(ExitUsage, fmt.Errorf("--output %q: use table or json", output))
			}
			cfg.Progress = a.stderr
			if err := cfg.Default().Validate(); err != nil {
				return withExit(ExitUsage, err)
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if output == "json" {
				return rep.WriteJSON(a.stdout)
			}
			return rep.WriteTable(a.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "database URL of the server: sqlite:PATH or postgres://... (default a new SQLite file)")
	f.IntVarP(&cfg.Events, "events", "n", 10_000, "events to publish (or, with --backlog, to generate)")
	f.IntVarP(&cfg.Concurrency, "concurrency", "c", 32, "publishers, server delivery concurrency and baseline connections")
	f.Float64Var(&cfg.Rate, "rate", 0, "events per second to publish; 0 = as fast as possible")
	f.IntVarP(&cfg.Webhooks, "webhooks", "k", 1, "fan-out: webhooks that receive every event")
	f.Float64Var(&cfg.FailShare, "fail-share", 0, "share of the webhooks whose receiver answers 500, e.g. 0.3")
	f.IntVar(&cfg.SlowHooks, "slow-hooks", 0, "webhooks whose receiver answers only after --slow")
	f.DurationVar(&cfg.Slow, "slow", 200*time.Millisecond, "answer delay of the slow webhooks")
	f.IntVar(&cfg.StruggleHooks, "struggle-hooks", 0, "webhooks whose receiver answers 503 past --struggle-cap requests in flight (200 after 20 ms otherwise)")
	f.IntVar(&cfg.StruggleCap, "struggle-cap", 4, "requests in flight a struggling receiver takes at once")
	f.IntVar(&cfg.Batch, "batch", 0, "publish in requests of this many events to the batch endpoint (1 to 1000); 0 = one request per event")
	f.BoolVar(&cfg.Backlog, "backlog", false, "write the events into the store before the server starts, then time the drain")
	f.BoolVar(&cfg.NoBaseline, "no-baseline", false, "skip the baseline run")
	f.StringVar(&cfg.RetrySchedule, "retry-schedule", "", "the server's --retry-schedule, e.g. 1s,2s,5s to keep failing receivers retried during the run")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "longest wait for the deliveries of one run")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newBenchReceiverCmd(a), newBenchBaselineCmd(a), newBenchQueryCmd(a))
	return cmd
}

// newBenchReceiverCmd is the receiver process bench starts (hidden: not for people).
func newBenchReceiverCmd(a *app) *cobra.Command {
	var addr string
	var slow time.Duration
	cmd := &cobra.Command{
		Use:    "receiver",
		Short:  "Run the benchmark's webhook receiver",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunReceiver(cmd.Context(), addr, slow, a.stderr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	cmd.Flags().DurationVar(&slow, "slow", 200*time.Millisecond, "answer delay of /slow/ paths")
	return cmd
}

// newBenchBaselineCmd is the baseline client process bench starts (hidden).
func newBenchBaselineCmd(a *app) *cobra.Command {
	var cfg bench.BaselineConfig
	cmd := &cobra.Command{
		Use:    "baseline",
		Short:  "Post the benchmark's bodies straight to a receiver",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(cfg.Targets) == 0 {
				return withExit(ExitUsage, errors.New("give at least one --target"))
			}
			return bench.RunBaseline(cmd.Context(), cfg, a.stdout)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&cfg.Targets, "target", nil, "receiver URL of one webhook (repeat)")
	f.IntVar(&cfg.Events, "events", 1000, "events; each is posted to every target")
	f.IntVar(&cfg.Concurrency, "concurrency", 32, "requests in flight")
	f.Float64Var(&cfg.Rate, "rate", 0, "events per second; 0 = as fast as possible")
	return cmd
}

func newBenchQueryCmd(a *app) *cobra.Command {
	var cfg bench.QueryConfig
	var output string
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Time the log listing and retries on a large generated history",
		Long: `Generate a history of --size deliveries (each with its event and attempt) directly in the
database with bulk SQL, start hookd serve on it, and time through the API: the log listing
(first page and page 1,000 of one webhook's 2xx deliveries and of a ten-day date range), a
retry of 100 ids, and "hookd retry --failed" of the failed deliveries of one webhook while
live traffic runs, with the live first-attempt latency before and during it.

--reuse keeps the history an earlier run left in --db.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return withExit(ExitUsage, fmt.Errorf("--output %q: use table or json", output))
			}
			cfg.Progress = a.stderr
			if err := cfg.Default().Validate(); err != nil {
				return withExit(ExitUsage, err)
			}
			rep, err := bench.Query(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if output == "json" {
				return rep.WriteJSON(a.stdout)
			}
			return rep.WriteTable(a.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "database URL: sqlite:PATH or postgres://... (default a new SQLite file)")
	f.Int64Var(&cfg.Size, "size", 1_000_000, "deliveries in the generated history")
	f.BoolVar(&cfg.Reuse, "reuse", false, "reuse the history an earlier run generated in --db")
	f.IntVar(&cfg.Repeat, "repeat", 20, "timed repetitions of each listing")
	f.Int64Var(&cfg.RetryFailed, "retry-failed", 100_000, "failed deliveries to retry by filter (at most a tenth of --size)")
	f.Float64Var(&cfg.LiveRate, "live-rate", 200, "live traffic, events per second")
	f.IntVar(&cfg.RetryRate, "retry-rate", 0, "pace of the replay job of the retry by filter (retry --failed --rate); 0 = its default, 200/s")
	f.DurationVar(&cfg.LiveWindow, "live-window", 10*time.Second, "live traffic before the retry by filter starts")
	f.IntVarP(&cfg.Concurrency, "concurrency", "c", 32, "the server's delivery concurrency")
	f.DurationVar(&cfg.Timeout, "timeout", 30*time.Minute, "longest wait for deliveries")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
