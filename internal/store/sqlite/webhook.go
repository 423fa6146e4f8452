package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/hookd/hookd"
)

// webhookColumns are the webhook columns in webhookDest order.
var webhookColumns = []string{"id", "name", "uri", "secret", "ssl", "enabled", "triggers", "target_id",
	"created_by", "created_on", "modified_by", "modified_on",
	"last_failure_on", "last_failure_content", "last_success_on", "disabled_reason", "last_status",
	"standard_signing", "previous_secret", "previous_secret_until",
	"ordered", "health", "health_reason", "health_since", "probe_at", "probes"}

var (
	webhookCols      = columns("w.", webhookColumns) // for SELECT ... FROM webhooks w
	webhookReturning = columns("", webhookColumns)   // RETURNING takes no table alias
)

// columns joins names, each with prefix, into a select list.
func columns(prefix string, names []string) string {
	return prefix + strings.Join(names, ", "+prefix)
}

// webhookDest returns the scan targets of webhookCols for w.
func webhookDest(w *hookd.Webhook) []any {
	return []any{&w.ID, &w.Name, &w.URI, &w.Secret, &w.SSL, &w.Enabled, &w.Triggers, &w.TargetID,
		&w.CreatedBy, timeCol{&w.CreatedOn}, &w.ModifiedBy, nullTimeCol{&w.ModifiedOn},
		nullTimeCol{&w.LastFailureOn}, &w.LastFailureContent, nullTimeCol{&w.LastSuccessOn},
		&w.DisabledReason, &w.LastStatus,
		&w.StandardSigning, &w.PreviousSecret, nullTimeCol{&w.PreviousSecretUntil},
		&w.Ordered, &w.Health, &w.HealthReason, nullTimeCol{&w.HealthSince}, nullTimeCol{&w.ProbeAt}, &w.Probes}
}

// queryer is what the read pool, the writer and a transaction have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getWebhook(ctx context.Context, q queryer, id int64) (*hookd.Webhook, error) {
	var w hookd.Webhook
	err := q.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks w WHERE w.id = ?`, id).Scan(webhookDest(&w)...)
	if err != nil {
		return nil, formatError(err)
	}
	return &w, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WebhookCreate stores a new webhook; ID and CreatedOn are set here.
func (s *Store) WebhookCreate(ctx context.Context, w *hookd.Webhook) (*hookd.Webhook, error) {
	var out hookd.Webhook
	err := s.write.QueryRowContext(ctx, `INSERT INTO webhooks
		(name, uri, secret, ssl, enabled, triggers, target_id, created_by, created_on, disabled_reason,
		standard_signing, ordered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+webhookReturning,
		w.Name, w.URI, w.Secret, boolInt(w.SSL), boolInt(w.Enabled), int64(w.Triggers), w.TargetID,
		w.CreatedBy, micros(s.now()), w.DisabledReason, boolInt(w.StandardSigning), boolInt(w.Ordered),
	).Scan(webhookDest(&out)...)
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", formatError(err))
	}
	return &out, nil
}

// WebhookGet returns one webhook, secret included.
func (s *Store) WebhookGet(ctx context.Context, id int64) (*hookd.Webhook, error) {
	w, err := getWebhook(ctx, s.read, id)
	if err != nil {
		return nil, fmt.Errorf("get webhook %d: %w", id, err)
	}
	return w, nil
}

// WebhookList returns the webhooks matching f ordered by id, with LastStatus filled.
func (s *Store) WebhookList(ctx context.Context, f hookd.WebhookFilter) ([]*hookd.Webhook, error) {
	query := `SELECT ` + webhookCols + ` FROM webhooks w`
	var args []any
	if f.CreatedBy != nil {
		query += ` WHERE w.created_by = ?`
		args = append(args, *f.CreatedBy)
	}
	ws, err := scanWebhooks(s.read.QueryContext(ctx, query+` ORDER BY w.id`, args...))
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// WebhookFind returns the webhook with this name and URI (the oldest if several), ErrNotFound
// if none.
func (s *Store) WebhookFind(ctx context.Context, name, uri string) (*hookd.Webhook, error) {
	var w hookd.Webhook
	err := s.read.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks w
		WHERE w.name = ? AND w.uri = ? ORDER BY w.id LIMIT 1`, name, uri).Scan(webhookDest(&w)...)
	if err != nil {
		return nil, fmt.Errorf("find webhook: %w", formatError(err))
	}
	return &w, nil
}

// updateQuery overwrites the editable fields of webhook ?10; SET expressions read the row as
// it was.
const updateQuery = `UPDATE webhooks SET
		name = ?1, uri = ?2, ssl = ?3, enabled = ?4, triggers = ?5, target_id = ?6,
		modified_by = ?7, modified_on = ?8, standard_signing = ?11, ordered = ?13,
		previous_secret = CASE
			WHEN ?9 = '' THEN CASE WHEN previous_secret_until > ?8 THEN previous_secret ELSE '' END
			WHEN ?12 IS NULL THEN ''
			ELSE secret END,
		previous_secret_until = CASE
			WHEN ?9 = '' THEN CASE WHEN previous_secret_until > ?8 THEN previous_secret_until END
			ELSE ?12 END,
		secret = CASE WHEN ?9 = '' THEN secret ELSE ?9 END,
		disabled_reason = CASE WHEN ?4 THEN '' ELSE disabled_reason END
	WHERE id = ?10 RETURNING `

// WebhookUpdate overwrites the editable fields, the secret only when w.Secret is set. Enabling
// clears DisabledReason; saving a disabled webhook keeps it. A new secret with
// PreviousSecretUntil rotates: the stored secret becomes the previous one; a new secret without
// it drops any previous one; no new secret keeps the rotation until it expires. Switching a
// webhook that was off on also resumes it, as WebhookSetEnabled does, in the same transaction.
func (s *Store) WebhookUpdate(ctx context.Context, w *hookd.Webhook) (*hookd.Webhook, error) {
	tx, sts, err := s.begin(ctx, enableQuery, releaseQuery)
	if err != nil {
		return nil, fmt.Errorf("update webhook %d: %w", w.ID, err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock from BEGIN IMMEDIATE: enabled cannot change
	// between this read and the update.
	var wasOn bool
	if err := tx.QueryRowContext(ctx, `SELECT enabled FROM webhooks WHERE id = ?`, w.ID).Scan(&wasOn); err != nil {
		return nil, fmt.Errorf("update webhook %d: %w", w.ID, formatError(err))
	}
	now := micros(s.now())
	out := &hookd.Webhook{}
	err = tx.QueryRowContext(ctx, updateQuery+webhookReturning,
		w.Name, w.URI, boolInt(w.SSL), boolInt(w.Enabled), int64(w.Triggers), w.TargetID,
		w.ModifiedBy, now, w.Secret, w.ID, boolInt(w.StandardSigning), nullMicros(w.PreviousSecretUntil),
		boolInt(w.Ordered),
	).Scan(webhookDest(out)...)
	if err != nil {
		return nil, fmt.Errorf("update webhook %d: %w", w.ID, formatError(err))
	}
	if !wasOn && w.Enabled {
		if out, err = enable(ctx, sts, w.ID, w.ModifiedBy, now); err != nil {
			return nil, fmt.Errorf("update webhook %d: %w", w.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update webhook %d: %w", w.ID, err)
	}
	return out, nil
}

// WebhookDelete removes a webhook; ON DELETE CASCADE removes its deliveries and their attempts.
// Events stay: other webhooks' deliveries share them.
func (s *Store) WebhookDelete(ctx context.Context, id int64) (*hookd.Webhook, error) {
	var out hookd.Webhook
	err := s.write.QueryRowContext(ctx, `DELETE FROM webhooks WHERE id = ? RETURNING `+webhookReturning, id).
		Scan(webhookDest(&out)...)
	if err != nil {
		return nil, fmt.Errorf("delete webhook %d: %w", id, formatError(err))
	}
	return &out, nil
}
