// Package metrics exposes hookd's Prometheus metrics. Each Metrics has its own registry, so
// several servers in one process (tests) do not share counters. Deliveries are observed by
// wrapping the store the other parts use (Metrics.Store): what passes through EventPublish,
// DeliveryClaim, AttemptRecord and the janitor's methods is counted, and the delivery worker
// needs no change. The backlog is read from the store at scrape time, through a short cache.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd"
)

// DefaultStatsTTL is how long a backlog reading is reused when Config.StatsTTL is zero.
const DefaultStatsTTL = 5 * time.Second

// StatsSource is what the backlog collector reads: hookd.Store.DeliveryStats.
type StatsSource interface {
	DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error)
}

// Config holds the optional parts of Metrics; the zero value of each field means its default.
type Config struct {
	// StatsTTL is how long a backlog reading serves scrapes before the store is asked again,
	// so that frequent scrapes (or several Prometheus servers) cannot hammer the database.
	// Default DefaultStatsTTL.
	StatsTTL time.Duration
	// StatsTimeout bounds one DeliveryStats call during a scrape. Default 5 s.
	StatsTimeout time.Duration
	// Version and Commit label hookd_build_info. Default "unknown".
	Version, Commit string
	// Clock tells the time for the cache and the age of the oldest due delivery. Default
	// hookd.SystemClock.
	Clock hookd.Clock
	// Logger receives failures to read the backlog. Default slog.Default().
	Logger *slog.Logger
}

// Metrics is the set of hookd's metrics on one registry. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	eventsPublished   prometheus.Counter
	deliveriesCreated *prometheus.CounterVec // origin: publish, retry, replay
	attempts          *prometheus.CounterVec // outcome: delivered, retry, failed
	attemptDuration   *prometheus.HistogramVec
	inFlight          prometheus.Gauge
	webhooksDisabled  *prometheus.CounterVec // reason: gone, failing
	pruned            prometheus.Counter
}

// New returns metrics whose backlog gauges read stats (nil: no backlog gauges), with the Go
// runtime and process collectors registered beside them.
func New(stats StatsSource, cfg Config) *Metrics {
	if cfg.StatsTTL <= 0 {
		cfg.StatsTTL = DefaultStatsTTL
	}
	if cfg.StatsTimeout <= 0 {
		cfg.StatsTimeout = 5 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	if cfg.Commit == "" {
		cfg.Commit = "unknown"
	}
	if cfg.Clock == nil {
		cfg.Clock = hookd.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		eventsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_events_published_total",
			Help: "Events published through this process.",
		}),
		deliveriesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_deliveries_created_total",
			Help: "Deliveries created by this process: by publishing an event (origin=publish), by a manual retry (origin=retry) or by a replay job (origin=replay).",
		}, []string{"origin"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_attempts_total",
			Help: "Delivery attempts recorded by this process, by what they meant for their delivery: delivered, retry (it waits for another attempt) or failed (it gave up).",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, connection to the last byte of the answer, by outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_attempts_in_flight",
			Help: "Deliveries this process has claimed and not yet recorded or released.",
		}),
		webhooksDisabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_webhooks_disabled_total",
			Help: "Webhooks hookd switched off by itself: the receiver answered 410 Gone (reason=gone), or it failed too long without success (reason=failing).",
		}, []string{"reason"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_deliveries_pruned_total",
			Help: "Finished deliveries deleted by retention, with their attempts.",
		}),
	}
	// Every label value exists from the start, so that rate() and sums see zeros, not gaps.
	for _, o := range []string{"publish", "retry"} {
		m.deliveriesCreated.WithLabelValues(o)
	}
	for _, o := range outcomeNames {
		m.attempts.WithLabelValues(o)
		m.attemptDuration.WithLabelValues(o)
	}
	for _, r := range []string{"gone", "failing"} {
		m.webhooksDisabled.WithLabelValues(r)
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hookd_build_info",
		Help:        "Always 1; the labels say which hookd this is.",
		ConstLabels: prometheus.Labels{"version": cfg.Version, "commit": cfg.Commit, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.eventsPublished, m.deliveriesCreated, m.attempts, m.attemptDuration,
		m.inFlight, m.webhooksDisabled, m.pruned, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.reg.MustRegister(newBacklogCollector(stats, cfg))
	}
	return m
}

// Registry returns the registry the metrics live on, to add more or gather them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // counts its own scrapes and errors
		EnableOpenMetrics: true,
	})
}

// outcomeNames are the label values of hookd.Outcome.
var outcomeNames = map[hookd.Outcome]string{
	hookd.OutcomeDelivered: "delivered",
	hookd.OutcomeRetry:     "retry",
	hookd.OutcomeFailed:    "failed",
}

// backlogCollector reports hookd.DeliveryStats at scrape time, reading the store at most once
// per TTL. The backlog is the database's, so every node of a cluster reports the same values.
type backlogCollector struct {
	stats StatsSource
	cfg   Config

	backlog, due, oldestAge *prometheus.Desc

	mu   sync.Mutex
	last *hookd.DeliveryStats
	at   time.Time
}

func newBacklogCollector(stats StatsSource, cfg Config) *backlogCollector {
	return &backlogCollector{
		stats: stats,
		cfg:   cfg,
		backlog: prometheus.NewDesc("hookd_deliveries_backlog",
			"Deliveries not yet final, by state (pending, retrying, inflight), in the whole database.", []string{"state"}, nil),
		due: prometheus.NewDesc("hookd_deliveries_due",
			"Pending or retrying deliveries whose time has come and that no worker has claimed yet.", nil, nil),
		oldestAge: prometheus.NewDesc("hookd_oldest_due_delivery_age_seconds",
			"How long the oldest due delivery has been waiting for a worker; 0 when none is due.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.due
	ch <- c.oldestAge
}

// Collect implements prometheus.Collector. When the store cannot be read, the backlog metrics
// are left out of the scrape (and the failure logged) rather than reported as zeros.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.read()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Retrying), "retrying")
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Inflight), "inflight")
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(st.Due))
	age := 0.0
	if !st.OldestDue.IsZero() {
		age = max(c.cfg.Clock.Now().Sub(st.OldestDue).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
}

// read returns the cached stats, or fresh ones once the cache is older than the TTL. The lock
// is held during the read so that concurrent scrapes make one query, not one each.
func (c *backlogCollector) read() (*hookd.DeliveryStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock.Now()
	if c.last != nil && now.Sub(c.at) < c.cfg.StatsTTL {
		return c.last, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StatsTimeout)
	defer cancel()
	st, err := c.stats.DeliveryStats(ctx)
	if err != nil {
		c.cfg.Logger.Warn("metrics: read delivery backlog", "err", err)
		return nil, false
	}
	c.last, c.at = st, now
	return st, true
}
