package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// Store returns s with every delivery that passes through counted: give the result to the
// worker, the API, the UI and the janitor in place of s. Methods not listed here pass
// through untouched. Optional interfaces of s (LISTEN/NOTIFY, SetLogger) are not forwarded:
// ask s for them.
func (m *Metrics) Store(s hookd.Store) hookd.Store {
	return &observedStore{Store: s, m: m, claims: map[int64]claimInfo{}, gone: map[int64]bool{}}
}

// observedStore is a hookd.Store that counts what passes through. Counts are taken only
// when the call succeeds, so that a call the worker retries is counted once.
type observedStore struct {
	hookd.Store
	m *Metrics

	mu     sync.Mutex
	claims map[int64]claimInfo // deliveries claimed and not yet recorded or released, by id
	gone   map[int64]bool      // webhooks a counted 410 switched off, until switched on here
}

// claimInfo is what the store remembers of a claimed delivery.
type claimInfo struct {
	webhookID int64
}

// EventPublish counts the event and the deliveries it created.
func (s *observedStore) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	ev, ds, err := s.Store.EventPublish(ctx, p)
	if err == nil {
		s.m.eventsPublished.Inc()
		s.m.deliveriesCreated.WithLabelValues("publish").Add(float64(len(ds)))
	}
	return ev, ds, err
}

// EventPublishBatch counts the events and deliveries of a batch as EventPublish counts one.
func (s *observedStore) EventPublishBatch(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	out, err := s.Store.EventPublishBatch(ctx, ps)
	if err == nil {
		n := 0
		for _, p := range out {
			n += len(p.Deliveries)
		}
		s.m.eventsPublished.Add(float64(len(out)))
		s.m.deliveriesCreated.WithLabelValues("publish").Add(float64(n))
	}
	return out, err
}

// WebhookHealthSet counts the changes of state it made: a call that found the webhook in
// another state than p.From changed nothing, and one that only rewrote the reason (or
// re-paused after a failed probe) is no change.
func (s *observedStore) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	w, changed, err := s.Store.WebhookHealthSet(ctx, p)
	from := p.From
	if from == "" {
		from = hookd.HealthHealthy
	}
	if err == nil && changed && from != p.To {
		s.m.healthChanges.WithLabelValues(string(p.To)).Inc()
	}
	return w, changed, err
}

// DeliveryRetry counts the deliveries a manual retry created.
func (s *observedStore) DeliveryRetry(ctx context.Context, p *hookd.DeliveryRetryParams) ([]*hookd.Delivery, error) {
	ds, err := s.Store.DeliveryRetry(ctx, p)
	if err == nil {
		s.m.deliveriesCreated.WithLabelValues("retry").Add(float64(len(ds)))
	}
	return ds, err
}

// ReplayStep counts the deliveries a replay job's step created.
func (s *observedStore) ReplayStep(ctx context.Context, p *hookd.ReplayStepParams) (*hookd.ReplayStepResult, error) {
	res, err := s.Store.ReplayStep(ctx, p)
	if err == nil && res != nil {
		n := 0
		for _, it := range res.Items {
			if it.NewDeliveryID != 0 {
				n++
			}
		}
		s.m.deliveriesCreated.WithLabelValues("replay").Add(float64(n))
	}
	return res, err
}

// DeliveryClaim counts the claimed deliveries as in flight.
func (s *observedStore) DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error) {
	cs, err := s.Store.DeliveryClaim(ctx, p)
	if err != nil || len(cs) == 0 {
		return cs, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		ci := claimInfo{}
		if c.Webhook != nil {
			ci.webhookID = c.Webhook.ID
		}
		s.claims[c.Delivery.ID] = ci
	}
	s.m.inFlight.Set(float64(len(s.claims)))
	return cs, nil
}

// DeliveryRelease takes released claims out of flight.
func (s *observedStore) DeliveryRelease(ctx context.Context, claims []*hookd.Claim) error {
	err := s.Store.DeliveryRelease(ctx, claims)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range claims {
		delete(s.claims, c.Delivery.ID)
	}
	s.m.inFlight.Set(float64(len(s.claims)))
	return nil
}

// AttemptRecord counts the recorded attempts by outcome, observes their durations, takes
// them out of flight, and counts the webhooks a 410 switched off. Several attempts to one
// webhook may be in flight when it answers 410 to all of them (some claimed, on PostgreSQL,
// while the first 410 was being recorded): only the first switches it off, so a 410 counts
// unless one was counted for the webhook since it was last switched on through this store.
// (A webhook switched on through another node and gone again is not counted here.)
func (s *observedStore) AttemptRecord(ctx context.Context, results []*hookd.AttemptResult) error {
	err := s.Store.AttemptRecord(ctx, results)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range results {
		o, ok := outcomeNames[r.Outcome]
		if !ok {
			continue
		}
		s.m.attempts.WithLabelValues(o).Inc()
		s.m.attemptDuration.WithLabelValues(o).Observe(r.Attempt.Duration.Seconds())
		ci, claimed := s.claims[r.Attempt.DeliveryID]
		delete(s.claims, r.Attempt.DeliveryID)
		if r.DisableWebhook != "" && (!claimed || !s.gone[ci.webhookID]) {
			s.m.webhooksDisabled.WithLabelValues("gone").Inc()
			if claimed {
				s.gone[ci.webhookID] = true
			}
		}
	}
	s.m.inFlight.Set(float64(len(s.claims)))
	return nil
}

// WebhookSetEnabled forgets a counted 410 of a webhook switched on again, and counts a
// degraded or paused webhook that enabling made healthy as a change to healthy.
func (s *observedStore) WebhookSetEnabled(ctx context.Context, id int64, enabled bool, modifiedBy, reason string) (*hookd.Webhook, error) {
	var before *hookd.Webhook
	if enabled {
		before = s.webhookBefore(ctx, id)
	}
	w, err := s.Store.WebhookSetEnabled(ctx, id, enabled, modifiedBy, reason)
	if err == nil && enabled {
		s.switchedOn(before, w)
	}
	return w, err
}

// WebhookUpdate forgets a counted 410 of a webhook switched on again, and counts a degraded or
// paused webhook that an update switched on (and so made healthy) as a change to healthy. An
// update of a webhook that was on already changes no health.
func (s *observedStore) WebhookUpdate(ctx context.Context, w *hookd.Webhook) (*hookd.Webhook, error) {
	var before *hookd.Webhook
	if w.Enabled {
		before = s.webhookBefore(ctx, w.ID)
	}
	out, err := s.Store.WebhookUpdate(ctx, w)
	if err == nil && out.Enabled {
		if before != nil && before.Enabled {
			before = nil // not switched on: no change of health to count
		}
		s.switchedOn(before, out)
	}
	return out, err
}

// webhookBefore reads webhook id before a call that may switch it on, nil when it cannot: the
// call then goes ahead, only its change of health goes uncounted.
func (s *observedStore) webhookBefore(ctx context.Context, id int64) *hookd.Webhook {
	w, err := s.Store.WebhookGet(ctx, id)
	if err != nil {
		return nil
	}
	return w
}

// switchedOn forgets a counted 410 of webhook w, just switched on, and counts a change to
// healthy when it was degraded or paused before (nil: unknown, or not switched on).
func (s *observedStore) switchedOn(before, w *hookd.Webhook) {
	s.mu.Lock()
	delete(s.gone, w.ID)
	s.mu.Unlock()
	if before != nil && (before.Health == hookd.HealthDegraded || before.Health == hookd.HealthPaused) &&
		w.State() == hookd.HealthHealthy {
		s.m.healthChanges.WithLabelValues(string(hookd.HealthHealthy)).Inc()
	}
}

// DeliveryPrune counts the pruned deliveries.
func (s *observedStore) DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.Store.DeliveryPrune(ctx, before, limit)
	if err == nil {
		s.m.pruned.Add(float64(n))
	}
	return n, err
}

// WebhookDisableFailing counts the webhooks switched off for failing too long.
func (s *observedStore) WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error) {
	ws, err := s.Store.WebhookDisableFailing(ctx, since, reason)
	if err == nil {
		s.m.webhooksDisabled.WithLabelValues("failing").Add(float64(len(ws)))
	}
	return ws, err
}
