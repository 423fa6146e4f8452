package sqlite

import (
	"context"
	"fmt"

	"github.com/hookd/hookd"
)

const keyCols = `id, name, hash, hint, role, scope, user_id, created_on, expires_on, revoked_on`

func scanKey(sc interface{ Scan(...any) error }) (*hookd.Key, error) {
	var k hookd.Key
	err := sc.Scan(&k.ID, &k.Name, &k.Hash, &k.Hint, &k.Role, &k.Scope, &k.UserID,
		timeCol{&k.CreatedOn}, nullTimeCol{&k.ExpiresOn}, nullTimeCol{&k.RevokedOn})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// KeyCreate stores a new API key; a hash already stored is ECONFLICT.
func (s *Store) KeyCreate(ctx context.Context, k *hookd.Key) (*hookd.Key, error) {
	row := s.write.QueryRowContext(ctx, `INSERT INTO keys (name, hash, hint, role, scope, user_id, created_on, expires_on)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+keyCols,
		k.Name, k.Hash, k.Hint, string(k.Role), string(k.Scope), k.UserID, micros(s.now()), nullMicros(k.ExpiresOn))
	out, err := scanKey(row)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", formatError(err))
	}
	return out, nil
}

// KeyByHash returns the key with this hash, revoked and expired keys included.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*hookd.Key, error) {
	st, err := s.readStmt(ctx, `SELECT `+keyCols+` FROM keys WHERE hash = ?`)
	if err != nil {
		return nil, fmt.Errorf("get key by hash: %w", err)
	}
	k, err := scanKey(st.QueryRowContext(ctx, hash))
	if err != nil {
		return nil, fmt.Errorf("get key by hash: %w", formatError(err))
	}
	return k, nil
}

// KeyList returns every key, oldest first.
func (s *Store) KeyList(ctx context.Context) ([]*hookd.Key, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+keyCols+` FROM keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var ks []*hookd.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return ks, nil
}

// KeyRevoke marks a key revoked; revoking again keeps the first revocation time.
func (s *Store) KeyRevoke(ctx context.Context, id int64) error {
	res, err := s.write.ExecContext(ctx, `UPDATE keys SET revoked_on = COALESCE(revoked_on, ?) WHERE id = ?`,
		micros(s.now()), id)
	if err != nil {
		return fmt.Errorf("revoke key %d: %w", id, formatError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke key %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("revoke key %d: %w", id, hookd.ErrNotFound)
	}
	return nil
}
