package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd"
)

// healthNames are the label values of hookd_webhooks, in order of gravity.
var healthNames = []hookd.WebhookHealth{hookd.HealthHealthy, hookd.HealthDegraded, hookd.HealthPaused, hookd.HealthDisabled}

// backlogCollector reports hookd.DeliveryStats and the webhooks by health at scrape time,
// reading the store at most once per TTL for each. Both are the database's, so every node of
// a cluster reports the same values.
type backlogCollector struct {
	src StatsSource
	cfg Config

	backlog, held, due, oldestAge, webhooks *prometheus.Desc

	stats  cached[*hookd.DeliveryStats]
	health cached[map[hookd.WebhookHealth]int]
}

func newBacklogCollector(src StatsSource, cfg Config) *backlogCollector {
	return &backlogCollector{
		src: src,
		cfg: cfg,
		backlog: prometheus.NewDesc("hookd_deliveries_backlog",
			"Deliveries not yet final, by state (pending, retrying, inflight), in the whole database; held ones are in hookd_deliveries_held.", []string{"state"}, nil),
		held: prometheus.NewDesc("hookd_deliveries_held",
			"Deliveries waiting for their paused webhook to resume, in the whole database.", nil, nil),
		due: prometheus.NewDesc("hookd_deliveries_due",
			"Pending or retrying deliveries whose time has come and that no worker has claimed yet.", nil, nil),
		oldestAge: prometheus.NewDesc("hookd_oldest_due_delivery_age_seconds",
			"How long the oldest due delivery has been waiting for a worker; 0 when none is due.", nil, nil),
		webhooks: prometheus.NewDesc("hookd_webhooks",
			"Webhooks by health state (healthy, degraded, paused, disabled), in the whole database.", []string{"health"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.held
	ch <- c.due
	ch <- c.oldestAge
	ch <- c.webhooks
}

// Collect implements prometheus.Collector. When the store cannot be read, the metrics of that
// reading are left out of the scrape (and the failure logged) rather than reported as zeros.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	if st, ok := c.readStats(); ok {
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Pending), "pending")
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Retrying), "retrying")
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Inflight), "inflight")
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(st.Held))
		ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(st.Due))
		age := 0.0
		if !st.OldestDue.IsZero() {
			age = max(c.cfg.Clock.Now().Sub(st.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
	}
	if counts, ok := c.readHealth(); ok {
		for _, h := range healthNames {
			ch <- prometheus.MustNewConstMetric(c.webhooks, prometheus.GaugeValue, float64(counts[h]), string(h))
		}
	}
}

// readStats returns the backlog, from the cache while it is younger than the TTL.
func (c *backlogCollector) readStats() (*hookd.DeliveryStats, bool) {
	return c.stats.get(c.cfg, "read delivery backlog", c.src.DeliveryStats)
}

// readHealth returns the number of webhooks in each health state, from the cache while it is
// younger than the TTL.
func (c *backlogCollector) readHealth() (map[hookd.WebhookHealth]int, bool) {
	return c.health.get(c.cfg, "count webhooks by health", func(ctx context.Context) (map[hookd.WebhookHealth]int, error) {
		ws, err := c.src.WebhookList(ctx, hookd.WebhookFilter{})
		if err != nil {
			return nil, err
		}
		counts := make(map[hookd.WebhookHealth]int, len(healthNames))
		for _, w := range ws {
			counts[w.State()]++
		}
		return counts, nil
	})
}

// cached is one reading of the store that serves scrapes for Config.StatsTTL.
type cached[T any] struct {
	mu  sync.Mutex
	val T
	at  time.Time
	ok  bool
}

// get returns the cached value, or a fresh one from load once the cache is older than the
// TTL. The lock is held during the load so that concurrent scrapes make one query, not one
// each. A failed load is logged with what and reported as false; the old value is dropped,
// so that a database that stays down is not reported as a frozen reading.
func (c *cached[T]) get(cfg Config, what string, load func(context.Context) (T, error)) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := cfg.Clock.Now()
	if c.ok && now.Sub(c.at) < cfg.StatsTTL {
		return c.val, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StatsTimeout)
	defer cancel()
	v, err := load(ctx)
	if err != nil {
		cfg.Logger.Warn("metrics: "+what, "err", err)
		var zero T
		c.val, c.ok = zero, false
		return zero, false
	}
	c.val, c.at, c.ok = v, now, true
	return v, true
}
