// Package metrics exposes hookd's Prometheus metrics. Each Metrics has its own registry, so
// several servers in one process (tests) do not share counters. Deliveries are observed by
// wrapping the store the other parts use (Metrics.Store): what passes through EventPublish,
// EventPublishBatch, DeliveryClaim, AttemptRecord, WebhookHealthSet and the janitor's methods
// is counted, and the delivery worker needs no change. The backlog and the webhooks by health
// are read from the store at scrape time, through a short cache.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd"
)

// DefaultStatsTTL is how long a backlog reading is reused when Config.StatsTTL is zero.
const DefaultStatsTTL = 5 * time.Second

// StatsSource is what the backlog collector reads at scrape time: the backlog, and the
// webhooks to count by health. A hookd.Store is one.
type StatsSource interface {
	DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error)
	WebhookList(ctx context.Context, f hookd.WebhookFilter) ([]*hookd.Webhook, error)
}

// Config holds the optional parts of Metrics; the zero value of each field means its default.
type Config struct {
	// StatsTTL is how long a backlog reading (and a count of the webhooks by health) serves
	// scrapes before the store is asked again, so that frequent scrapes (or several
	// Prometheus servers) cannot hammer the database. Default DefaultStatsTTL.
	StatsTTL time.Duration
	// StatsTimeout bounds one DeliveryStats or WebhookList call during a scrape. Default 5 s.
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
	healthChanges     *prometheus.CounterVec // to: healthy, degraded, paused
	pruned            prometheus.Counter
}

// New returns metrics whose backlog and webhook gauges read stats (nil: none), with the Go
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
		healthChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_webhook_health_changes_total",
			Help: "Changes of a webhook's health state made through this process, by the state entered (healthy, degraded, paused); enabling a degraded or paused webhook counts as a change to healthy.",
		}, []string{"to"}),
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
	for _, h := range healthNames[:3] { // disabled is not a health change: see webhooksDisabled
		m.healthChanges.WithLabelValues(string(h))
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hookd_build_info",
		Help:        "Always 1; the labels say which hookd this is.",
		ConstLabels: prometheus.Labels{"version": cfg.Version, "commit": cfg.Commit, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.eventsPublished, m.deliveriesCreated, m.attempts, m.attemptDuration,
		m.inFlight, m.webhooksDisabled, m.healthChanges, m.pruned, buildInfo,
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
