package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/client"
	"github.com/hookd/hookd/internal/server"
)

// webhookSecret signs the benchmark's deliveries. It is not a real secret: the receiver
// runs on loopback and checks nothing.
const webhookSecret = "bench-webhook-secret-0123456789"

// benchPrefix names the webhooks the benchmark creates, and deletes before each run.
const benchPrefix = "bench-"

// stopGrace is how long a child may take to shut down after SIGTERM.
const stopGrace = 30 * time.Second

// Run performs one end-to-end run: a receiver, then the baseline, then hookd serve on
// cfg.DB with the same receiver, and returns the figures of both.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Machine: currentMachine()}
	e, cleanup, err := newEnv(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	backend, _, err := server.ParseDB(cfg.DB)
	if err != nil {
		return nil, err
	}
	rep.Scenario = Scenario{Backend: backend, Events: cfg.Events, Webhooks: cfg.Webhooks, Failing: cfg.failHooks(),
		Slow: cfg.SlowHooks, Struggling: cfg.StruggleHooks, Concurrency: cfg.Concurrency, Rate: cfg.Rate,
		Backlog: cfg.Backlog, Batch: cfg.Batch}
	if cfg.SlowHooks > 0 {
		rep.Scenario.SlowDelay = cfg.Slow.String()
	}
	if cfg.StruggleHooks > 0 {
		rep.Scenario.StruggleCap = cfg.StruggleCap
	}
	if !cfg.NoBaseline {
		if rep.Baseline, err = e.baseline(ctx); err != nil {
			return nil, err
		}
	}
	if rep.Hookd, err = e.hookd(ctx); err != nil {
		return nil, err
	}
	if b := rep.Baseline; b != nil && b.DeliveriesPerSec > 0 {
		h := rep.Hookd.DeliveriesPerSec
		if cfg.Backlog {
			h = rep.Hookd.RecordedPerSec
		}
		rep.Ratio = h / b.DeliveriesPerSec
	}
	rep.Machine.LoadAfter = loadAverage()
	return rep, nil
}

// env is what the runs of one Run share: the receiver and the webhooks' URLs.
type env struct {
	cfg     *Config
	recv    *child
	rc      *receiverClient
	classes []string
	targets []string
}

func newEnv(ctx context.Context, cfg *Config) (*env, func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if cfg.TempDir == "" {
		dir, err := os.MkdirTemp("", "hookd-bench-")
		if err != nil {
			return nil, nil, fmt.Errorf("temp dir: %w", err)
		}
		cfg.TempDir = dir
		undo = append(undo, func() { os.RemoveAll(dir) })
	}
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(cfg.TempDir, "bench.db")
	}
	recv, err := startReceiver(ctx, cfg.Exec, cfg.Slow)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	e := &env{cfg: cfg, recv: recv, rc: newReceiverClient(recv.url), classes: cfg.classes()}
	undo = append(undo, func() {
		e.rc.hc.CloseIdleConnections()
		recv.stop(stopGrace)
	})
	for i, class := range e.classes {
		t := fmt.Sprintf("%s/%s/h%d", recv.url, class, i)
		if class == ClassStruggle {
			t += "?cap=" + strconv.Itoa(cfg.StruggleCap)
		}
		e.targets = append(e.targets, t)
	}
	return e, cleanup, nil
}

// startReceiver starts `hookd bench receiver` on a free loopback port.
func startReceiver(ctx context.Context, x Exec, slow time.Duration) (*child, error) {
	return startChild(ctx, x, "receiver", []string{"bench", "receiver", "--addr", "127.0.0.1:0", "--slow", slow.String()},
		nil, receiverReadyPrefix, nil)
}

// expected is the number of first attempts a run produces.
func (e *env) expected() int64 { return int64(e.cfg.Events) * int64(e.cfg.Webhooks) }

// baseline runs `hookd bench baseline` against the receiver and collects its figures.
func (e *env) baseline(ctx context.Context) (*RunResult, error) {
	cfg := e.cfg
	progressf(cfg.Progress, "baseline: %d requests, concurrency %d", e.expected(), cfg.Concurrency)
	if err := e.rc.reset(ctx); err != nil {
		return nil, err
	}
	args := []string{"bench", "baseline", "--events", strconv.Itoa(cfg.Events),
		"--concurrency", strconv.Itoa(cfg.Concurrency), "--rate", strconv.FormatFloat(cfg.Rate, 'f', -1, 64)}
	for _, t := range e.targets {
		args = append(args, "--target", t)
	}
	recv0, _ := liveUsage(e.recv.pid())
	var out strings.Builder
	c, err := startChild(ctx, cfg.Exec, "baseline", args, nil, "", &out)
	if err != nil {
		return nil, err
	}
	usage, err := c.wait(ctx)
	if err != nil {
		return nil, err
	}
	var br BaselineResult
	if err := json.Unmarshal([]byte(out.String()), &br); err != nil {
		return nil, fmt.Errorf("baseline output: %w", err)
	}
	if br.Errors > 0 {
		return nil, fmt.Errorf("baseline: %d of %d requests failed, first: %s", br.Errors, e.expected(), br.FirstErr)
	}
	st, err := e.rc.waitFor(ctx, cfg.Timeout, func(s ReceiverStats) bool { return s.Firsts >= e.expected() })
	if err != nil {
		return nil, err
	}
	recv1, _ := liveUsage(e.recv.pid())
	res := &RunResult{Deliveries: st.Firsts, Retries: st.Retries, Duplicates: st.Duplicates, Process: usage,
		Receiver: Usage{CPU: recv1.CPU - recv0.CPU, PeakRSS: recv1.PeakRSS},
		Struggle: newStruggleResult(st.Struggle, cfg.StruggleCap)}
	res.Duration = time.Duration(st.LastRecv - br.Start)
	res.DeliveriesPerSec = rate(st.Firsts, res.Duration)
	if err := e.latencies(ctx, res, 0); err != nil {
		return nil, err
	}
	progressf(cfg.Progress, "baseline: %.0f deliveries/s, p99 %s", res.DeliveriesPerSec, ms(res.Latency.P99))
	return res, nil
}

// latencies fills in the latency figures of healthy and slow webhooks from the receiver.
func (e *env) latencies(ctx context.Context, res *RunResult, pubFrom int64) error {
	ok, err := e.rc.latency(ctx, LatencyQuery{Class: ClassOK, PubFrom: pubFrom})
	if err != nil {
		return err
	}
	res.Latency = ok.Latency
	if e.cfg.SlowHooks > 0 {
		slow, err := e.rc.latency(ctx, LatencyQuery{Class: ClassSlow, PubFrom: pubFrom})
		if err != nil {
			return err
		}
		res.SlowLatency = &slow.Latency
	}
	return nil
}

// hookd prepares the store, runs hookd serve, publishes (or lets it drain the backlog) and
// collects its figures.
func (e *env) hookd(ctx context.Context) (*RunResult, error) {
	cfg := e.cfg
	if err := e.rc.reset(ctx); err != nil {
		return nil, err
	}
	res := &RunResult{}
	db, err := e.prepare(ctx, res)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	key := hookd.NewKeySecret()
	srv, err := startServer(ctx, cfg.Exec, cfg.DB, key, cfg.Concurrency, cfg.RetrySchedule)
	if err != nil {
		return nil, err
	}
	defer srv.stop(stopGrace)
	start := time.Now()
	srv0, _ := liveUsage(srv.pid())
	recv0, _ := liveUsage(e.recv.pid())
	if !cfg.Backlog {
		if res.Publish, err = e.publish(ctx, srv.url, key); err != nil {
			return nil, err
		}
		start = res.Publish.start
	}
	st, err := e.waitFirsts(ctx, db)
	if err != nil {
		return nil, err
	}
	recordedAt, err := waitRecorded(ctx, db, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	if res.Held, err = db.countDeliveries(ctx, heldFirst); err != nil {
		return nil, err
	}
	if st, err = e.rc.stats(ctx); err != nil { // the struggle figures up to now
		return nil, err
	}
	srv1, _ := liveUsage(srv.pid())
	recv1, _ := liveUsage(e.recv.pid())
	total, err := srv.stop(stopGrace)
	if err != nil {
		return nil, err
	}
	res.Deliveries, res.Retries, res.Duplicates = st.Firsts, st.Retries, st.Duplicates
	res.Duration = time.Duration(st.LastRecv - start.UnixNano())
	res.DeliveriesPerSec = rate(st.Firsts, res.Duration)
	res.Recorded = recordedAt.Sub(start)
	res.RecordedPerSec = rate(st.Firsts, res.Recorded)
	res.Process = Usage{CPU: srv1.CPU - srv0.CPU, PeakRSS: max(srv1.PeakRSS, total.PeakRSS)}
	if srv1.CPU == 0 {
		res.Process.CPU = total.CPU // no /proc: the whole life of the process
	}
	res.Receiver = Usage{CPU: recv1.CPU - recv0.CPU, PeakRSS: recv1.PeakRSS}
	res.Struggle = newStruggleResult(st.Struggle, cfg.StruggleCap)
	if !cfg.Backlog {
		if err := e.latencies(ctx, res, 0); err != nil {
			return nil, err
		}
	}
	progressf(cfg.Progress, "hookd: %.0f deliveries/s received, %.0f/s recorded", res.DeliveriesPerSec, res.RecordedPerSec)
	return res, nil
}

// waitFirsts waits until the receiver has the first attempt of every delivery but those held
// never attempted: a paused webhook (s9-design.md) holds its deliveries, and a receiver that
// keeps failing keeps it paused past any run. Before the store holds deliveries the count is
// always zero. The database is asked only when the receiver's count stands still.
func (e *env) waitFirsts(ctx context.Context, db benchDB) (ReceiverStats, error) {
	var last int64 = -1
	var dbErr error
	st, err := e.rc.waitFor(ctx, e.cfg.Timeout, func(s ReceiverStats) bool {
		if s.Firsts >= e.expected() {
			return true
		}
		moved := s.Firsts != last
		last = s.Firsts
		if moved {
			return false
		}
		var held int64
		held, dbErr = db.countDeliveries(ctx, heldFirst)
		return dbErr != nil || s.Firsts+held >= e.expected()
	})
	if err == nil {
		err = dbErr
	}
	return st, err
}

// prepare creates the webhooks and, for a backlog run, writes the backlog into the store. It
// returns the benchmark's own connection to the database, which the caller closes.
func (e *env) prepare(ctx context.Context, res *RunResult) (benchDB, error) {
	cfg := e.cfg
	hooks, err := prepareStore(ctx, cfg.DB, benchHooks(e.targets))
	if err != nil {
		return nil, err
	}
	db, err := openBenchDB(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if !cfg.Backlog {
		return db, nil
	}
	progressf(cfg.Progress, "hookd: writing a backlog of %d deliveries into the store", e.expected())
	t0 := time.Now()
	if err := db.insertPending(ctx, hooks, 0, int64(cfg.Events), time.Now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("generate backlog: %w", err)
	}
	if err := db.finish(ctx); err != nil {
		db.Close()
		return nil, err
	}
	res.Generated = time.Since(t0)
	return db, nil
}

// publish sends the run's events through the server at url.
func (e *env) publish(ctx context.Context, url, key string) (*PublishResult, error) {
	cfg := e.cfg
	hc := loadClient(cfg.Concurrency)
	defer hc.CloseIdleConnections()
	p := publishParams{events: cfg.Events, concurrency: cfg.Concurrency, rate: cfg.Rate, batch: cfg.Batch}
	if cfg.Batch > 0 {
		progressf(cfg.Progress, "hookd: publishing %d events to %d webhooks, %d per request", cfg.Events, cfg.Webhooks, cfg.Batch)
		p.send = batchSender(hc, url, key, benchTrigger)
	} else {
		cl, err := client.New(url, key, client.WithHTTPClient(hc), client.WithRetries(0))
		if err != nil {
			return nil, err
		}
		progressf(cfg.Progress, "hookd: publishing %d events to %d webhooks", cfg.Events, cfg.Webhooks)
		p.send = singleSender(cl, benchTrigger)
	}
	res := publish(ctx, p)
	if res.Errors > 0 {
		return nil, fmt.Errorf("publish: %d of %d events failed, first: %s", res.Errors, cfg.Events, res.FirstErr)
	}
	return res, nil
}

// waitRecorded polls the database until no delivery waits for its first attempt to be
// recorded, and returns when that was seen.
func waitRecorded(ctx context.Context, db benchDB, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := db.countDeliveries(ctx, waitingFirst)
		if err != nil {
			return time.Time{}, err
		}
		if n == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d deliveries still wait for their first attempt to be recorded after %s", n, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// startServer starts `hookd serve` on db with an admin key and loopback receivers allowed.
func startServer(ctx context.Context, x Exec, db, key string, concurrency int, schedule string) (*child, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--concurrency", strconv.Itoa(concurrency),
		"--shutdown-grace", "5s"}
	if schedule != "" {
		args = append(args, "--retry-schedule", schedule)
	}
	env := []string{"HOOKD_ADMIN_KEY=" + key, "HOOKD_ALLOWED_NETWORKS=127.0.0.0/8", "HOOKD_LOG_LEVEL=warn"}
	return startChild(ctx, x, "hookd serve", args, env, "hookd listening on ", nil)
}

// hookSpec is a webhook the benchmark creates.
type hookSpec struct {
	name    string // starts with benchPrefix
	uri     string
	trigger hookd.Trigger
}

// benchHooks names one webhook per target, subscribed to the benchmark's trigger.
func benchHooks(targets []string) []hookSpec {
	out := make([]hookSpec, len(targets))
	for i, t := range targets {
		out[i] = hookSpec{name: fmt.Sprintf("%s%d", benchPrefix, i), uri: t, trigger: benchTrigger}
	}
	return out
}

// prepareStore migrates the database, deletes the webhooks of earlier benchmark runs (with
// their deliveries) and creates specs. It refuses a database with other enabled webhooks:
// they would receive the benchmark's events.
func prepareStore(ctx context.Context, db string, specs []hookSpec) ([]int64, error) {
	st, err := server.OpenStore(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	existing, err := st.WebhookList(ctx, hookd.WebhookFilter{})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	for _, w := range existing {
		if !strings.HasPrefix(w.Name, benchPrefix) {
			if w.Enabled {
				return nil, fmt.Errorf("the database has webhook %d (%q), not the benchmark's: use an empty database", w.ID, w.Name)
			}
			continue
		}
		if _, err := st.WebhookDelete(ctx, w.ID); err != nil {
			return nil, fmt.Errorf("delete webhook %d of an earlier run: %w", w.ID, err)
		}
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		w, err := st.WebhookCreate(ctx, &hookd.Webhook{Name: sp.name, URI: sp.uri, Secret: webhookSecret,
			Enabled: true, Triggers: sp.trigger})
		if err != nil {
			return nil, fmt.Errorf("create webhook: %w", err)
		}
		ids[i] = w.ID
	}
	return ids, nil
}
