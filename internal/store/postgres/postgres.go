package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/groupcommit"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the advisory lock Migrate holds: "hookd" in ASCII. Advisory locks are
// scoped to one database, so clusters with several hookd databases do not contend.
const migrateLockKey int64 = 0x686f6f6b64

// notifyChannel is the LISTEN/NOTIFY channel that says "deliveries may be due".
const notifyChannel = "hookd_due"

// Store is hookd.Store on PostgreSQL. It is safe for concurrent use, by many goroutines and
// by many processes on one database.
type Store struct {
	pool      *pgxpool.Pool
	clock     hookd.Clock
	logger    *slog.Logger
	publisher *groupcommit.Committer // EventPublish's group commit
}

// publishFlushes is how many group-commit transactions of EventPublish may run at once. Two
// keep one flushing while the next fills, without taking the pool's connections from claims
// and records.
const publishFlushes = 2

var _ hookd.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user@host:port/db?pool_max_conns=N...)
// and checks that it answers. It does not migrate: call Migrate. A nil clock is
// hookd.SystemClock.
func Open(ctx context.Context, url string, clock hookd.Clock) (*Store, error) {
	if clock == nil {
		clock = hookd.SystemClock{}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: keep only that it failed.
		return nil, hookd.Errorf(hookd.EINVALID, "The PostgreSQL URL cannot be parsed.")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Store{pool: pool, clock: clock, logger: slog.New(slog.DiscardHandler)}
	s.publisher = groupcommit.New(publishFlushes, hookd.MaxPublishBatch, s.publish)
	return s, nil
}

// SetLogger makes the store log what it recovers from by itself (Listen's reconnections);
// by default it logs nothing. Call it before Listen.
func (s *Store) SetLogger(l *slog.Logger) {
	if l != nil {
		s.logger = l
	}
}

// Close releases the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// now is the store's time: UTC, truncated to PostgreSQL's microseconds so that what a method
// returns equals what a later read returns.
func (s *Store) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaID identifies the embedded schema: a short hash of every migration file. Test
// helpers name their template databases after it, so a changed migration gets a new one.
func SchemaID() string {
	ms, err := migrations()
	if err != nil {
		return "invalid"
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00", m.version, m.sql)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Migrate applies the missing migrations in one transaction. A transaction-level advisory lock
// serializes concurrent calls from any number of processes; it is released by commit or
// rollback, so a crashed migrator cannot leave it held.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hookd_migrations (
			version    integer PRIMARY KEY,
			name       text        NOT NULL,
			applied_on timestamptz NOT NULL)`); err != nil {
			return fmt.Errorf("create hookd_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM hookd_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this binary's %d", current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO hookd_migrations (version, name, applied_on) VALUES ($1, $2, $3)",
				m.version, m.name, s.now()); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers and that every migration this binary embeds has been
// applied. A newer schema passes: during a rolling upgrade the new binary migrates first, and
// the old nodes must stay ready until they are replaced (migrations are kept additive).
func (s *Store) Ping(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('hookd_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var got int
	if exists {
		if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM hookd_migrations").Scan(&got); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	}
	if got < len(ms) {
		return hookd.Errorf(hookd.EUNAVAILABLE,
			"The database schema is at version %d, this hookd needs version %d: run \"hookd migrate\".", got, len(ms))
	}
	return nil
}

// inTx runs fn in a transaction, again (up to three times in all) when PostgreSQL aborts it
// for a deadlock or a serialization failure, which concurrent nodes can cause.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retryConflicts(func() error { return pgx.BeginFunc(ctx, s.pool, fn) })
}

// retryConflicts runs a transaction again (up to three times in all) while it fails on a
// deadlock or a serialization failure, which PostgreSQL resolves by aborting one side.
func retryConflicts(run func() error) error {
	var err error
	for try := 0; try < 3; try++ {
		err = run()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
	}
	return err
}

// notify wakes every node's dispatcher once tx commits (NOTIFY is transactional).
func notify(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// formatError turns driver errors into domain errors where one applies and wraps the rest
// with op. Messages never carry parameter values: they may be secrets.
func formatError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, hookd.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w", op, hookd.Errorf(hookd.ECONFLICT, "The record already exists."))
		case "22P02", "22023", "23514": // invalid text, invalid parameter, check violation
			return fmt.Errorf("%s: %w", op, hookd.Errorf(hookd.EINVALID, "Invalid value: %s.", pgErr.Message))
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// utc converts a time read from the database to UTC; pgx returns local times.
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr is utc for nullable columns.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// micro truncates a caller's time to what PostgreSQL stores.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// microPtr is micro for optional times.
func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := micro(*t)
	return &u
}
