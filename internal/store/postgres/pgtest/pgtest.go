// Package pgtest gives tests a private, migrated PostgreSQL database each.
//
// It reads TEST_DATABASE_URL (a postgres:// URL of a role allowed to create databases;
// .ci/postgres.sh starts a throw-away server and sets it). Unset, tests that need PostgreSQL
// are skipped, or fail when CI=true so that CI cannot pass by skipping them.
//
// Once per schema, a template database hookd_tmpl_<schema id> is created and migrated (test
// processes running in parallel agree on it through an advisory lock); each test then gets
// CREATE DATABASE hookd_test_<random> TEMPLATE it, which is much faster than migrating, and
// the database is dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres"
)

// EnvURL is the variable that points the tests at a PostgreSQL server.
const EnvURL = "TEST_DATABASE_URL"

// templateLockKey serializes template creation across test processes ("hookdtmp").
const templateLockKey int64 = 0x686f6f6b64746d70

// readyComment marks a template whose migration finished; a crashed builder leaves none.
const readyComment = "hookd template ready"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// OpenTest opens a Store on a fresh migrated database, closed and dropped when the test
// ends. A nil clock is hookd.SystemClock.
func OpenTest(t testing.TB, clock hookd.Clock) *postgres.Store {
	t.Helper()
	u := TestURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, u, clock)
	if err != nil {
		t.Fatalf("pgtest: open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestURL returns the URL of a fresh migrated database, dropped when the test ends, for tests
// that open several stores on one database or run the hookd binary.
func TestURL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	templateOnce.Do(func() { templateName, templateErr = buildTemplate(admin) })
	if templateErr != nil {
		t.Fatalf("pgtest: template database: %v", templateErr)
	}
	return newDatabase(t, admin, templateName)
}

// EmptyURL returns the URL of a fresh database without any schema, dropped when the test
// ends, for tests of Migrate and of hookd migrate.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, adminURL(t), "")
}

// adminURL returns TEST_DATABASE_URL, skipping the test when it is unset (failing it under
// CI=true).
func adminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %s is not set; under CI the PostgreSQL tests must run (.ci/postgres.sh pg_start sets it)", EnvURL)
		}
		t.Skipf("pgtest: %s is not set; start a server with: . .ci/postgres.sh && pg_start", EnvURL)
	}
	return u
}

// withDatabase returns admin with its database name replaced.
func withDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// buildTemplate makes sure the migrated template database of the current schema exists.
func buildTemplate(admin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "hookd_tmpl_" + postgres.SchemaID()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	// Session-level: held until unlock or until the connection closes, whatever happens.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLockKey)

	var comment *string
	err = conn.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`,
		name).Scan(&comment)
	switch {
	case err == nil && comment != nil && *comment == readyComment:
		return name, nil
	case err == nil: // left half-built by a crashed process
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop stale template: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("look up template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(name)); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	u, err := withDatabase(admin, name)
	if err != nil {
		return "", err
	}
	s, err := postgres.Open(ctx, u, nil)
	if err != nil {
		return "", fmt.Errorf("open template: %w", err)
	}
	err = s.Migrate(ctx)
	s.Close() // CREATE DATABASE ... TEMPLATE refuses a template with open connections
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident(name)+" IS '"+readyComment+"'"); err != nil {
		return "", fmt.Errorf("mark template ready: %w", err)
	}
	return name, nil
}

// newDatabase creates a database, a copy of template when it is not empty, and drops it
// when the test ends.
func newDatabase(t testing.TB, admin, template string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "hookd_test_" + hex.EncodeToString(b)
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(context.Background())
	stmt := "CREATE DATABASE " + ident(name)
	if template != "" {
		stmt += " TEMPLATE " + ident(template)
	}
	for try := 1; ; try++ {
		_, err = conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		// 55006 object_in_use: another process is connected to the template for a moment
		// (building or checking it); it lets go soon.
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || try == 20 {
			break
		}
		time.Sleep(time.Duration(try) * 50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	return u
}

// dropDatabase removes a test's database, disconnecting whatever still uses it.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// ident quotes a database name.
func ident(name string) string { return pgx.Identifier{strings.ToLower(name)}.Sanitize() }
