package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const webhookCols = `w.id, w.name, w.uri, w.secret, w.ssl, w.enabled, w.triggers, w.target_id,
	w.created_by, w.created_on, w.modified_by, w.modified_on,
	w.last_failure_on, w.last_failure_content, w.last_success_on, w.disabled_reason, w.last_status,
	w.standard_signing, w.previous_secret, w.previous_secret_until,
	w.ordered, w.health, w.health_reason, w.health_since, w.probe_at, w.probes`

// webhookDest returns the scan destinations of webhookCols; call fixWebhook after scanning.
func webhookDest(w *hookd.Webhook) []any {
	return []any{&w.ID, &w.Name, &w.URI, &w.Secret, &w.SSL, &w.Enabled, &w.Triggers, &w.TargetID,
		&w.CreatedBy, &w.CreatedOn, &w.ModifiedBy, &w.ModifiedOn,
		&w.LastFailureOn, &w.LastFailureContent, &w.LastSuccessOn, &w.DisabledReason, &w.LastStatus,
		&w.StandardSigning, &w.PreviousSecret, &w.PreviousSecretUntil,
		&w.Ordered, &w.Health, &w.HealthReason, &w.HealthSince, &w.ProbeAt, &w.Probes}
}

// fixWebhook puts the times of a scanned webhook in UTC.
func fixWebhook(w *hookd.Webhook) {
	w.CreatedOn = utc(w.CreatedOn)
	w.ModifiedOn = utcPtr(w.ModifiedOn)
	w.LastFailureOn = utcPtr(w.LastFailureOn)
	w.LastSuccessOn = utcPtr(w.LastSuccessOn)
	w.PreviousSecretUntil = utcPtr(w.PreviousSecretUntil)
	w.HealthSince = utcPtr(w.HealthSince)
	w.ProbeAt = utcPtr(w.ProbeAt)
}

// scanWebhook reads one row of webhookCols. LastStatus is filled everywhere, as by the SQLite
// store: the contract requires it of WebhookList only.
func scanWebhook(row pgx.Row) (*hookd.Webhook, error) {
	var w hookd.Webhook
	if err := row.Scan(webhookDest(&w)...); err != nil {
		return nil, err
	}
	fixWebhook(&w)
	return &w, nil
}

// WebhookCreate stores a new webhook: its configuration, creator and DisabledReason; ID and
// CreatedOn are set by the store, the delivery history starts empty.
func (s *Store) WebhookCreate(ctx context.Context, w *hookd.Webhook) (*hookd.Webhook, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO webhooks AS w (name, uri, secret, ssl, enabled, triggers, target_id,
			created_by, created_on, disabled_reason, standard_signing, ordered)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING `+webhookCols,
		w.Name, w.URI, w.Secret, w.SSL, w.Enabled, int64(w.Triggers), w.TargetID,
		w.CreatedBy, s.now(), w.DisabledReason, w.StandardSigning, w.Ordered)
	out, err := scanWebhook(row)
	if err != nil {
		return nil, formatError("create webhook", err)
	}
	return out, nil
}

// WebhookGet returns one webhook, secret included.
func (s *Store) WebhookGet(ctx context.Context, id int64) (*hookd.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks w WHERE w.id = $1`, id))
	if err != nil {
		return nil, formatError(fmt.Sprintf("get webhook %d", id), err)
	}
	return w, nil
}

// WebhookList returns the webhooks matching f ordered by id, with LastStatus filled.
func (s *Store) WebhookList(ctx context.Context, f hookd.WebhookFilter) ([]*hookd.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookCols+` FROM webhooks w
		WHERE ($1::text IS NULL OR w.created_by = $1) ORDER BY w.id`, f.CreatedBy)
	if err != nil {
		return nil, formatError("list webhooks", err)
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, formatError("list webhooks", err)
	}
	return ws, nil
}

// WebhookFind returns the webhook with this name and URI (the oldest if several), ErrNotFound
// if none.
func (s *Store) WebhookFind(ctx context.Context, name, uri string) (*hookd.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks w
		WHERE w.name = $1 AND w.uri = $2 ORDER BY w.id LIMIT 1`, name, uri))
	if err != nil {
		return nil, formatError("find webhook", err)
	}
	return w, nil
}

// updateSQL overwrites the configuration of webhook $1; SET expressions read the row as it
// was.
const updateSQL = `UPDATE webhooks w SET name = $2, uri = $3, ssl = $4, enabled = $5,
		triggers = $6, target_id = $7, modified_by = $8, modified_on = $9, standard_signing = $11,
		ordered = $13,
		previous_secret = CASE
			WHEN $10 = '' THEN CASE WHEN w.previous_secret_until > $9 THEN w.previous_secret ELSE '' END
			WHEN $12::timestamptz IS NULL THEN ''
			ELSE w.secret END,
		previous_secret_until = CASE
			WHEN $10 = '' THEN CASE WHEN w.previous_secret_until > $9 THEN w.previous_secret_until END
			ELSE $12::timestamptz END,
		secret = CASE WHEN $10 = '' THEN w.secret ELSE $10 END,
		disabled_reason = CASE WHEN $5 THEN '' ELSE w.disabled_reason END
	WHERE w.id = $1 RETURNING ` + webhookCols

// WebhookUpdate overwrites the configuration of a webhook; ModifiedOn is the store's now, the
// secret changes only when w.Secret is set, and enabling clears DisabledReason. A new secret
// with PreviousSecretUntil rotates: the stored secret becomes the previous one; a new secret
// without it drops any previous one; no new secret keeps the rotation until it expires.
// Switching a webhook that was off on also resumes it, as WebhookSetEnabled does, in the same
// transaction.
func (s *Store) WebhookUpdate(ctx context.Context, w *hookd.Webhook) (*hookd.Webhook, error) {
	var out *hookd.Webhook
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// An update that may switch the webhook on takes the lock enabling takes (health.go)
		// and learns whether it was on; one that leaves it off changes no health.
		wasOn := true
		if w.Enabled {
			if err := tx.QueryRow(ctx, lockWebhookSQL, w.ID).Scan(&wasOn); err != nil {
				return err
			}
		}
		now := s.now()
		var err error
		out, err = scanWebhook(tx.QueryRow(ctx, updateSQL, w.ID, w.Name, w.URI, w.SSL, w.Enabled,
			int64(w.Triggers), w.TargetID, w.ModifiedBy, now, w.Secret, w.StandardSigning,
			microPtr(w.PreviousSecretUntil), w.Ordered))
		if err != nil || wasOn || !w.Enabled {
			return err
		}
		out, err = enable(ctx, tx, w.ID, w.ModifiedBy, now)
		return err
	})
	if err != nil {
		return nil, formatError(fmt.Sprintf("update webhook %d", w.ID), err)
	}
	return out, nil
}

// WebhookDelete removes a webhook; ON DELETE CASCADE removes its deliveries and their
// attempts in the same statement.
func (s *Store) WebhookDelete(ctx context.Context, id int64) (*hookd.Webhook, error) {
	out, err := scanWebhook(s.pool.QueryRow(ctx, `DELETE FROM webhooks w WHERE w.id = $1 RETURNING `+webhookCols, id))
	if err != nil {
		return nil, formatError(fmt.Sprintf("delete webhook %d", id), err)
	}
	return out, nil
}
