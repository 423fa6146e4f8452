package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// Holding and releasing race with the transactions that create deliveries (publish, retry,
// replay), which decide held or pending from the webhook's health as they read it. Both sides
// lock the webhook row so that no delivery is created against a health that has changed
// meanwhile:
//
//   - a change of health (pause, resume, enable, an update that may enable) first takes the
//     webhook FOR UPDATE, which waits for every transaction that inserted deliveries for it
//     (their foreign key check holds FOR KEY SHARE on the webhook) and makes new ones wait;
//   - the creators read the webhook FOR KEY SHARE, so one that waited reads the health the
//     change committed (READ COMMITTED re-reads a row locked after a concurrent update).
//
// So a pause holds every delivery created before it, and a resume releases every held one:
// none is left held on a healthy webhook, nor pending on a paused one. FOR KEY SHARE is what
// the foreign key check takes anyway, so publishers still never wait for AttemptRecord.

// lockWebhookSQL takes a webhook FOR UPDATE (see above) and reads whether it is enabled.
const lockWebhookSQL = `SELECT enabled FROM webhooks WHERE id = $1 FOR UPDATE`

// healthOf is the stored health read as a state: ” is healthy.
const healthOf = `coalesce(nullif(w.health, ''), 'healthy')`

// holdSQL holds every waiting delivery of webhook $1 (through deliveries_open).
const holdSQL = `UPDATE deliveries SET state = 'held'
	WHERE webhook_id = $1 AND state IN ('pending', 'retrying')`

// releaseSQL puts the held deliveries of webhook $1 back to waiting, due when they were.
const releaseSQL = `UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END
	WHERE webhook_id = $1 AND state = 'held'`

// release releases the held deliveries of webhook id in tx and wakes the dispatchers when
// there were any.
func release(ctx context.Context, tx pgx.Tx, id int64) error {
	tag, err := tx.Exec(ctx, releaseSQL, id)
	if err != nil {
		return fmt.Errorf("release held deliveries: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return notify(ctx, tx)
}

// healthSetSQL is the compare-and-set of WebhookHealthSet: $2 the state the caller saw, $3 the
// new one. The stored ” stays when the state does not change, and so does health_since.
const healthSetSQL = `UPDATE webhooks w SET
		health = CASE WHEN ` + healthOf + ` = $3 THEN w.health ELSE $3 END,
		health_reason = $4,
		health_since = CASE WHEN ` + healthOf + ` = $3 THEN w.health_since ELSE $5 END,
		probe_at = CASE WHEN $3 = 'paused' THEN $6::timestamptz END,
		probes = CASE WHEN $3 = 'paused' THEN $7::integer ELSE 0 END
	WHERE w.id = $1 AND ` + healthOf + ` = $2
	RETURNING ` + webhookCols

// WebhookHealthSet moves webhook p.ID from p.From to p.To when its health is still p.From, and
// holds (to paused) or releases (otherwise) its deliveries in the same transaction.
func (s *Store) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	from, to := p.From, p.To
	if from == "" {
		from = hookd.HealthHealthy
	}
	switch to {
	case hookd.HealthHealthy, hookd.HealthDegraded, hookd.HealthPaused:
	default:
		return nil, false, hookd.Errorf(hookd.EINVALID, "A webhook's health can be set to healthy, degraded or paused, not %q.", to)
	}
	var (
		w       *hookd.Webhook
		changed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockWebhookSQL, p.ID); err != nil {
			return err
		}
		var err error
		w, err = scanWebhook(tx.QueryRow(ctx, healthSetSQL, p.ID, string(from), string(to), p.Reason,
			s.now(), micro(p.ProbeAt), p.Probes))
		if errors.Is(err, pgx.ErrNoRows) {
			// Not (or no longer) in the state the caller saw: say what it is now.
			changed = false
			w, err = scanWebhook(tx.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks w WHERE w.id = $1`, p.ID))
			return err
		} else if err != nil {
			return err
		}
		changed = true
		if to == hookd.HealthPaused {
			// Also when it was paused already: a failed probe is held again.
			if _, err := tx.Exec(ctx, holdSQL, p.ID); err != nil {
				return fmt.Errorf("hold deliveries: %w", err)
			}
			return nil
		}
		return release(ctx, tx, p.ID)
	})
	if err != nil {
		return nil, false, formatError(fmt.Sprintf("set webhook %d health", p.ID), err)
	}
	return w, changed, nil
}

// setEnabledSQL switches webhook $1 on or off ($2). Enabling clears the disabled reason and
// makes it healthy (health_since moves only when it was not).
const setEnabledSQL = `UPDATE webhooks w SET enabled = $2, modified_by = $3, modified_on = $4,
		disabled_reason = $5,
		health = CASE WHEN $2 AND ` + healthOf + ` <> 'healthy' THEN 'healthy' ELSE w.health END,
		health_since = CASE WHEN $2 AND ` + healthOf + ` <> 'healthy' THEN $4 ELSE w.health_since END,
		health_reason = CASE WHEN $2 THEN '' ELSE w.health_reason END,
		probe_at = CASE WHEN $2 THEN NULL ELSE w.probe_at END,
		probes = CASE WHEN $2 THEN 0 ELSE w.probes END
	WHERE w.id = $1 RETURNING ` + webhookCols

// enable switches webhook id on and resumes it in tx, which has locked it with
// lockWebhookSQL: healthy, its held deliveries released. It is what enabling does, through
// WebhookSetEnabled or WebhookUpdate.
func enable(ctx context.Context, tx pgx.Tx, id int64, modifiedBy string, now time.Time) (*hookd.Webhook, error) {
	w, err := scanWebhook(tx.QueryRow(ctx, setEnabledSQL, id, true, modifiedBy, now, ""))
	if err != nil {
		return nil, err
	}
	return w, release(ctx, tx, id)
}

// WebhookSetEnabled switches a webhook on or off; reason is kept when disabling and cleared
// when enabling. Enabling also resumes the webhook: healthy, its held deliveries released.
func (s *Store) WebhookSetEnabled(ctx context.Context, id int64, enabled bool, modifiedBy, reason string) (*hookd.Webhook, error) {
	var w *hookd.Webhook
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if !enabled {
			w, err = scanWebhook(tx.QueryRow(ctx, setEnabledSQL, id, false, modifiedBy, s.now(), reason))
			return err
		}
		if _, err := tx.Exec(ctx, lockWebhookSQL, id); err != nil {
			return err
		}
		w, err = enable(ctx, tx, id, modifiedBy, s.now())
		return err
	})
	if err != nil {
		return nil, formatError(fmt.Sprintf("set webhook %d enabled", id), err)
	}
	return w, nil
}

// probeDueSQL starts the due probes in one statement. The webhooks are taken FOR NO KEY
// UPDATE SKIP LOCKED: two nodes never probe one webhook at once (the second skips it, then
// finds probe_at moved on), and publishers, whose FOR KEY SHARE does not conflict, cannot keep
// a probe from being taken. The oldest held delivery of each (by due time, then id) comes due
// now; $2 is now+lease, the next probe time until the probe's result sets it. A held delivery
// that an earlier one of its ordering key blocks is passed over: released, it could not be
// claimed, and the webhook would never be probed.
const probeDueSQL = `WITH due AS (
		SELECT w.id FROM webhooks w
		WHERE w.enabled AND w.health = 'paused' AND w.probe_at <= $1
		ORDER BY w.id
		FOR NO KEY UPDATE SKIP LOCKED
	), probe AS (
		SELECT DISTINCT ON (d.webhook_id) d.id FROM deliveries d JOIN due ON due.id = d.webhook_id
		WHERE d.state = 'held' AND ` + unblocked + `
		ORDER BY d.webhook_id, d.next_attempt_at, d.id
	), released AS (
		UPDATE deliveries d SET state = CASE WHEN d.attempts = 0 THEN 'pending' ELSE 'retrying' END,
			next_attempt_at = $1
		FROM probe WHERE d.id = probe.id AND d.state = 'held'
		RETURNING d.id
	), probed AS (
		UPDATE webhooks w SET probe_at = $2 FROM due WHERE w.id = due.id
		RETURNING w.*
	)
	SELECT ` + webhookCols + `, (SELECT count(*) FROM released) FROM probed w ORDER BY w.id`

// WebhookProbeDue starts the probes that have come due, on any number of nodes at once, and
// returns the webhooks probed.
func (s *Store) WebhookProbeDue(ctx context.Context, lease time.Duration) ([]*hookd.Webhook, error) {
	if lease <= 0 {
		return nil, hookd.Errorf(hookd.EINVALID, "The probe lease must be positive.")
	}
	now := s.now()
	rows, err := s.pool.Query(ctx, probeDueSQL, now, now.Add(lease).Truncate(time.Microsecond))
	if err != nil {
		return nil, formatError("start probes", err)
	}
	var released int64
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Webhook, error) {
		var w hookd.Webhook
		if err := r.Scan(append(webhookDest(&w), &released)...); err != nil {
			return nil, err
		}
		fixWebhook(&w)
		return &w, nil
	})
	if err != nil {
		return nil, formatError("start probes", err)
	}
	if released > 0 {
		// The probes are committed: wake the dispatchers of every node.
		if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel); err != nil {
			return nil, formatError("start probes", err)
		}
	}
	if ws == nil {
		ws = []*hookd.Webhook{}
	}
	return ws, nil
}
