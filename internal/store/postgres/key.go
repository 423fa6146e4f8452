package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const keyCols = `id, name, hash, hint, role, scope, user_id, created_on, expires_on, revoked_on`

func scanKey(row pgx.Row) (*hookd.Key, error) {
	var k hookd.Key
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Hint, &k.Role, &k.Scope, &k.UserID,
		&k.CreatedOn, &k.ExpiresOn, &k.RevokedOn); err != nil {
		return nil, err
	}
	k.CreatedOn = utc(k.CreatedOn)
	k.ExpiresOn = utcPtr(k.ExpiresOn)
	k.RevokedOn = utcPtr(k.RevokedOn)
	return &k, nil
}

// KeyCreate stores a new API key; a hash already stored is ECONFLICT.
func (s *Store) KeyCreate(ctx context.Context, k *hookd.Key) (*hookd.Key, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO api_keys (name, hash, hint, role, scope, user_id, created_on, expires_on)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+keyCols,
		k.Name, k.Hash, k.Hint, string(k.Role), string(k.Scope), k.UserID, s.now(), microPtr(k.ExpiresOn))
	out, err := scanKey(row)
	if err != nil {
		return nil, formatError("create key", err)
	}
	return out, nil
}

// KeyByHash returns the key with this hash, revoked and expired keys included.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*hookd.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = $1`, hash))
	if err != nil {
		return nil, formatError("get key by hash", err)
	}
	return k, nil
}

// KeyList returns every key, oldest first.
func (s *Store) KeyList(ctx context.Context) ([]*hookd.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, formatError("list keys", err)
	}
	ks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, formatError("list keys", err)
	}
	return ks, nil
}

// KeyRevoke marks a key revoked; revoking again keeps the first revocation time.
func (s *Store) KeyRevoke(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_on = coalesce(revoked_on, $1) WHERE id = $2`, s.now(), id)
	if err != nil {
		return formatError(fmt.Sprintf("revoke key %d", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke key %d: %w", id, hookd.ErrNotFound)
	}
	return nil
}
