package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

// The deliveries a webhook's health moves.
const (
	// holdQuery holds every delivery of webhook ?1 waiting to go out. Pausing is rare: it
	// reads the waiting deliveries of every webhook (deliveries_due), not the webhook's
	// whole history.
	holdQuery = `UPDATE deliveries INDEXED BY deliveries_due SET state = 'held'
	WHERE webhook_id = ?1 AND state IN ('pending', 'retrying')`
	// releaseQuery gives the held deliveries of webhook ?1 back to the dispatcher, with their
	// NextAttemptAt: pending when never attempted, else retrying.
	releaseQuery = `UPDATE deliveries INDEXED BY deliveries_held
	SET state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END
	WHERE webhook_id = ?1 AND state = 'held'`
	// probeQuery makes the oldest held delivery of webhook ?1 due at ?2. A delivery its
	// ordering key blocks could not be claimed, so it is passed over for the key's head.
	probeQuery = `UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END,
		next_attempt_at = ?2
	WHERE id = (SELECT d.id FROM deliveries d INDEXED BY deliveries_held
		WHERE d.webhook_id = ?1 AND d.state = 'held' AND NOT (` + keyBlocked + `)
		ORDER BY d.next_attempt_at, d.id LIMIT 1)`
)

// keyBlocked is true for a delivery d that has an open delivery of the same webhook and
// ordering key with a lower id: only the oldest open delivery of a key may go out. The
// subquery repeats the WHERE of deliveries_ordering, which makes it one index probe.
const keyBlocked = `d.ordering_key <> '' AND EXISTS (SELECT 1 FROM deliveries o
		WHERE o.webhook_id = d.webhook_id AND o.ordering_key = d.ordering_key AND o.id < d.id
			AND o.ordering_key <> '' AND o.state IN ('pending', 'retrying', 'inflight', 'held'))`

// healthSetQuery is the compare-and-set of WebhookHealthSet: ?2 the new state, ?7 the state
// the caller saw. SET expressions read the row as it was, so health_since moves only when the
// state does.
var healthSetQuery = `UPDATE webhooks SET
		health = ?2, health_reason = ?3,
		health_since = CASE WHEN health = ?2 THEN health_since ELSE ?4 END,
		probe_at = CASE WHEN ?2 = 'paused' THEN ?5 END,
		probes = CASE WHEN ?2 = 'paused' THEN ?6 ELSE 0 END
	WHERE id = ?1 AND health = ?7
	RETURNING ` + webhookReturning

// storedHealth maps the states WebhookHealthSet accepts to their stored form ("" is healthy);
// anything else is not a state a webhook can be moved to or from.
func storedHealth(h hookd.WebhookHealth) (string, bool) {
	switch h {
	case "", hookd.HealthHealthy:
		return string(hookd.HealthHealthy), true
	case hookd.HealthDegraded, hookd.HealthPaused:
		return string(h), true
	}
	return "", false
}

// WebhookHealthSet moves webhook p.ID from p.From to p.To when its health is still p.From,
// holding its waiting deliveries when it goes to paused (again) and releasing them when it
// leaves paused, in one transaction.
func (s *Store) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	to, okTo := storedHealth(p.To)
	from, okFrom := storedHealth(p.From)
	if !okTo || !okFrom || p.To == "" {
		return nil, false, hookd.Errorf(hookd.EINVALID,
			"A webhook's health moves between healthy, degraded and paused, not from %q to %q.", p.From, p.To)
	}
	tx, sts, err := s.begin(ctx, holdQuery, releaseQuery)
	if err != nil {
		return nil, false, fmt.Errorf("set webhook %d health: %w", p.ID, err)
	}
	defer tx.Rollback()
	var w hookd.Webhook
	err = tx.QueryRowContext(ctx, healthSetQuery, p.ID, to, p.Reason, micros(s.now()),
		micros(p.ProbeAt), p.Probes, from).Scan(webhookDest(&w)...)
	if errors.Is(err, sql.ErrNoRows) {
		// Gone, or moved by someone else since the caller looked.
		cur, err := getWebhook(ctx, tx, p.ID)
		if err != nil {
			return nil, false, fmt.Errorf("set webhook %d health: %w", p.ID, err)
		}
		return cur, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("set webhook %d health: %w", p.ID, err)
	}
	switch {
	case to == string(hookd.HealthPaused):
		_, err = sts[0].ExecContext(ctx, p.ID)
	case from == string(hookd.HealthPaused):
		_, err = sts[1].ExecContext(ctx, p.ID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("set webhook %d health: %w", p.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("set webhook %d health: %w", p.ID, err)
	}
	return &w, true, nil
}

// probeDueQuery moves the probe time of every enabled paused webhook whose probe is due to
// ?2, so that no other caller probes it meanwhile.
var probeDueQuery = `UPDATE webhooks SET probe_at = ?2
	WHERE health = 'paused' AND probe_at <= ?1 AND enabled
	RETURNING ` + webhookReturning

// WebhookProbeDue releases, for every enabled paused webhook whose probe is due, its oldest
// held delivery as the probe, due now, and moves the webhook's ProbeAt to now+lease, in one
// transaction. It returns the webhooks probed in id order.
func (s *Store) WebhookProbeDue(ctx context.Context, lease time.Duration) ([]*hookd.Webhook, error) {
	if lease <= 0 {
		return nil, hookd.Errorf(hookd.EINVALID, "The probe lease must be positive.")
	}
	tx, sts, err := s.begin(ctx, probeDueQuery, probeQuery)
	if err != nil {
		return nil, fmt.Errorf("probe paused webhooks: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	ws, err := scanWebhooks(sts[0].QueryContext(ctx, micros(now), micros(now.Add(lease))))
	if err != nil {
		return nil, fmt.Errorf("probe paused webhooks: %w", err)
	}
	for _, w := range ws {
		if _, err := sts[1].ExecContext(ctx, w.ID, micros(now)); err != nil {
			return nil, fmt.Errorf("probe webhook %d: %w", w.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("probe paused webhooks: %w", err)
	}
	return ws, nil
}

// enableQuery switches webhook ?1 on and resumes it: healthy (health_since moves only when it
// was not), no health reason, no probe, no disabled reason.
var enableQuery = `UPDATE webhooks SET
		enabled = 1, disabled_reason = '', modified_by = ?2, modified_on = ?3,
		health = 'healthy', health_reason = '',
		health_since = CASE WHEN health = 'healthy' THEN health_since ELSE ?3 END,
		probe_at = NULL, probes = 0
	WHERE id = ?1 RETURNING ` + webhookReturning

// enable switches webhook id on and resumes it in tx, releasing its held deliveries: what
// enabling does, through WebhookSetEnabled or WebhookUpdate. The transaction must have been
// begun with enableQuery and releaseQuery, in sts[0] and sts[1].
func enable(ctx context.Context, sts []*sql.Stmt, id int64, modifiedBy string, now int64) (*hookd.Webhook, error) {
	var out hookd.Webhook
	if err := sts[0].QueryRowContext(ctx, id, modifiedBy, now).Scan(webhookDest(&out)...); err != nil {
		return nil, formatError(err)
	}
	if _, err := sts[1].ExecContext(ctx, id); err != nil {
		return nil, fmt.Errorf("release held deliveries: %w", err)
	}
	return &out, nil
}

// WebhookSetEnabled switches a webhook on or off, keeping reason when disabling and clearing it
// when enabling. Enabling also makes the webhook healthy and releases its held deliveries, in
// the same transaction.
func (s *Store) WebhookSetEnabled(ctx context.Context, id int64, enabled bool, modifiedBy, reason string) (*hookd.Webhook, error) {
	now := micros(s.now())
	if !enabled {
		var out hookd.Webhook
		err := s.write.QueryRowContext(ctx, `UPDATE webhooks SET
			enabled = 0, disabled_reason = ?, modified_by = ?, modified_on = ?
			WHERE id = ? RETURNING `+webhookReturning,
			reason, modifiedBy, now, id,
		).Scan(webhookDest(&out)...)
		if err != nil {
			return nil, fmt.Errorf("disable webhook %d: %w", id, formatError(err))
		}
		return &out, nil
	}
	tx, sts, err := s.begin(ctx, enableQuery, releaseQuery)
	if err != nil {
		return nil, fmt.Errorf("enable webhook %d: %w", id, err)
	}
	defer tx.Rollback()
	out, err := enable(ctx, sts, id, modifiedBy, now)
	if err != nil {
		return nil, fmt.Errorf("enable webhook %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enable webhook %d: %w", id, err)
	}
	return out, nil
}

// scanWebhooks reads the webhooks a query returns, in id order.
func scanWebhooks(rows *sql.Rows, err error) ([]*hookd.Webhook, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ws := []*hookd.Webhook{}
	for rows.Next() {
		var w hookd.Webhook
		if err := rows.Scan(webhookDest(&w)...); err != nil {
			return nil, err
		}
		ws = append(ws, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(ws, func(a, b *hookd.Webhook) int { return cmp.Compare(a.ID, b.ID) })
	return ws, nil
}
