package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// ParseDB splits a database URL into its backend ("sqlite" or "postgres") and what that backend
// opens: a file path for SQLite, the URL itself for PostgreSQL.
func ParseDB(db string) (backend, target string, err error) {
	switch {
	case strings.HasPrefix(db, "sqlite://"):
		backend, target = "sqlite", strings.TrimPrefix(db, "sqlite://")
	case strings.HasPrefix(db, "sqlite:"):
		backend, target = "sqlite", strings.TrimPrefix(db, "sqlite:")
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		backend, target = "postgres", db
	default:
		return "", "", fmt.Errorf("database URL %q: use sqlite:PATH (e.g. sqlite:hookd.db) or postgres://user@host/db", RedactDB(db))
	}
	if target == "" {
		return "", "", fmt.Errorf("database URL %q names no database", RedactDB(db))
	}
	return backend, target, nil
}

// RedactDB returns a database URL fit for logs: a password in it is replaced by "xxxxx".
func RedactDB(db string) string {
	u, err := url.Parse(db)
	if err != nil || u.User == nil {
		return db
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// OpenStore opens the store a database URL names, without migrating it.
func OpenStore(ctx context.Context, db string, clock hookd.Clock) (hookd.Store, error) {
	backend, target, err := ParseDB(db)
	if err != nil {
		return nil, err
	}
	switch backend {
	case "postgres":
		s, err := postgres.Open(ctx, target, clock)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return s, nil
	default:
		s, err := sqlite.Open(ctx, target, clock)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", target, err)
		}
		return s, nil
	}
}

// EnsureKey makes sure a key with this secret exists, creating it with the given role and
// scope if not. It is how HOOKD_ADMIN_KEY provisions the first key of a fresh install.
func EnsureKey(ctx context.Context, store hookd.Store, secret, name string, role hookd.Role, scope hookd.Scope) (*hookd.Key, error) {
	hash := hookd.HashKey(secret)
	k, err := store.KeyByHash(ctx, hash)
	if err == nil {
		return k, nil
	} else if hookd.ErrorCode(err) != hookd.ENOTFOUND {
		return nil, fmt.Errorf("look up key: %w", err)
	}
	k, err = store.KeyCreate(ctx, &hookd.Key{
		Name:   name,
		Hash:   hash,
		Hint:   hookd.KeyHint(secret),
		Role:   role,
		Scope:  scope,
		UserID: hookd.NewUserID(),
	})
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	return k, nil
}
