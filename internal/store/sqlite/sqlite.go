// Package sqlite implements hookd.Store on a SQLite file with modernc.org/sqlite (no cgo).
//
// The store keeps two connection pools on the same file: one writer connection, through which
// every write transaction goes (BEGIN IMMEDIATE), and a read pool. SQLite allows a single
// writer at a time anyway; funnelling writes through one connection turns lock contention
// (SQLITE_BUSY) into an ordinary queue in database/sql, and WAL mode lets the readers go on
// while the writer works. Claims are one UPDATE ... RETURNING on the writer.
//
// Times are stored as INTEGER unix microseconds in UTC. The schema lives in migrations/*.sql,
// applied by Migrate.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/groupcommit"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var _ hookd.Store = (*Store)(nil)

// Store is hookd.Store on SQLite. It is safe for concurrent use.
type Store struct {
	write *sql.DB // exactly one connection; every write transaction is BEGIN IMMEDIATE
	read  *sql.DB // read-only pool
	clock hookd.Clock

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared hot-path statements on the writer
	reads map[string]*sql.Stmt // prepared hot-path statements on the read pool

	pub *groupcommit.Committer // group commit of EventPublish
}

// Open opens (creating it if needed) the SQLite database at path without migrating it; clock
// nil means hookd.SystemClock. path must name a file: the writer and the readers are separate
// connections, so ":memory:" would give them separate databases.
func Open(ctx context.Context, path string, clock hookd.Clock) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return nil, hookd.Errorf(hookd.EINVALID, "SQLite path %q must name a file", path)
	}
	if clock == nil {
		clock = hookd.SystemClock{}
	}
	// The pragmas, set on every connection by the driver:
	//   busy_timeout(10000): another process (a second hookd, the CLI's migrate) may hold the
	//     write lock for a moment; wait up to 10 s instead of failing at once with SQLITE_BUSY.
	//   foreign_keys(1): SQLite ignores REFERENCES without it; deleting a webhook relies on
	//     ON DELETE CASCADE to remove its deliveries and attempts.
	//   journal_mode(WAL): readers do not block the writer nor the writer the readers, and a
	//     commit appends to the log instead of rewriting pages twice.
	//   synchronous(NORMAL): in WAL mode a commit is durable against a crash of the process
	//     (the WAL is written before COMMIT returns); only a power loss or OS crash may lose the
	//     last transactions, never corrupt the file. FULL would fsync on every commit.
	//   _txlock=immediate: BEGIN IMMEDIATE takes the write lock when the transaction starts,
	//     so a transaction that reads then writes cannot fail half-way with SQLITE_BUSY.
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	writeDSN := fileURI(path) + "?" + common +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	// The read pool never writes; query_only makes a write there an error instead of a
	// second writer competing with the first.
	readDSN := fileURI(path) + "?" + common + "&_pragma=query_only(1)"

	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer connection: SQLite has one writer at a time anyway, and a single
	// connection queues writers in database/sql instead of spinning on busy_timeout.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// Connecting the writer first creates the file and switches it to WAL before a reader
	// opens it.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", readDSN)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &Store{write: write, read: read, clock: clock, stmts: map[string]*sql.Stmt{}, reads: map[string]*sql.Stmt{}}
	s.pub = groupcommit.New(1, maxPublishGroup, s.publishTx) // one writer: one flush at a time
	return s, nil
}

// fileURI turns a path into a SQLite file: URI, escaping the characters URIs reserve.
func fileURI(path string) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath()}
	return u.String()
}

// Close closes both pools.
func (s *Store) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range s.reads {
		st.Close()
	}
	s.stmts, s.reads = map[string]*sql.Stmt{}, map[string]*sql.Stmt{}
	s.mu.Unlock()
	return errors.Join(s.write.Close(), s.read.Close())
}

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. File names are NNN_name.sql.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %q: want NNN_name.sql", e.Name())
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

// Migrate applies the migrations not yet recorded in schema_migrations, all in one immediate
// transaction: a second process calling Migrate at the same time waits for the write lock and
// then finds nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.migrate(ctx, ms)
}

// migrate applies the migrations of ms not yet applied; ms are the first len(ms) migrations
// (tests stop at an older version).
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	// The documented way of rebuilding a table (005_health.sql) needs foreign keys off while
	// the old table is dropped, and the pragma is a no-op inside a transaction: switch it on
	// the writer's one connection around the transaction, and check the keys before commit.
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("migrate: foreign keys off: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: it must enforce foreign keys again whatever
		// happened. A failure here leaves the connection unusable rather than unchecked.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_on INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary's %d", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_on) VALUES (?, ?, ?)`,
			m.version, m.name, micros(s.clock.Now())); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
	}
	// The check reads every table: only after a migration ran, not on every start.
	if current < len(ms) {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// foreignKeyCheck fails when a row references a missing one (foreign keys were off while
// migrating).
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		return fmt.Errorf("foreign key check: %s row %d references a missing %s row", table, rowid.Int64, parent)
	}
	return rows.Err()
}

// Ping checks that the database answers and that every embedded migration has been applied.
// A newer schema passes, as on PostgreSQL: migrations only add, so a binary rolled back after
// a migrate keeps working.
func (s *Store) Ping(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var exists int
	if err := s.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	var current int
	if exists > 0 {
		if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("ping sqlite: read schema version: %w", err)
		}
	}
	if current < len(ms) {
		return hookd.Errorf(hookd.EUNAVAILABLE,
			"The database schema is at version %d, this hookd needs version %d: run \"hookd migrate\".", current, len(ms))
	}
	return nil
}

// prepare returns the prepared form of a hot-path statement on the writer, preparing it on
// first use (not in Open: SQLite cannot prepare against tables Migrate has not created yet).
// It must be called before the transaction starts: the writer pool has one connection, which
// an open transaction holds. Bind the result to the transaction with tx.StmtContext, which
// reuses the preparation because it was made on that same connection.
func (s *Store) prepare(ctx context.Context, queries ...string) ([]*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*sql.Stmt, len(queries))
	for i, q := range queries {
		st, err := cached(ctx, s.write, s.stmts, q)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

// readStmt returns query prepared on the read pool, preparing it on first use. SQLite
// parses an unprepared statement on every call, which costs more than running a small one:
// the dispatcher's DeliveryNextDue spent 80 % of its time in the parser (docs/perf.md).
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cached(ctx, s.read, s.reads, query)
}

// cached returns query prepared on pool from cache, preparing and keeping it on first use.
// The caller holds s.mu.
func cached(ctx context.Context, pool *sql.DB, cache map[string]*sql.Stmt, query string) (*sql.Stmt, error) {
	if st, ok := cache[query]; ok {
		return st, nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	cache[query] = st
	return st, nil
}

// begin starts a write transaction (BEGIN IMMEDIATE) with the prepared statements of queries
// bound to it.
func (s *Store) begin(ctx context.Context, queries ...string) (*sql.Tx, []*sql.Stmt, error) {
	sts, err := s.prepare(ctx, queries...)
	if err != nil {
		return nil, nil, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	for i, st := range sts {
		sts[i] = tx.StmtContext(ctx, st)
	}
	return tx, sts, nil
}

// now returns the clock's time as stored: UTC, microsecond precision.
func (s *Store) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// micros is the stored form of a time.
func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

// fromMicros is the inverse of micros.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros is the stored form of an optional time.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// timeCol scans a stored time into a time.Time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan time: got %T, want int64", src)
	}
	*c.t = fromMicros(v)
	return nil
}

// nullTimeCol scans an optional stored time into a *time.Time.
type nullTimeCol struct{ t **time.Time }

// Scan implements sql.Scanner.
func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan time: got %T, want int64", src)
	}
	t := fromMicros(v)
	*c.t = &t
	return nil
}

// formatError turns driver errors into domain errors: no rows is ErrNotFound and a constraint
// violation ECONFLICT. Other errors are returned as they are (internal).
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return hookd.ErrNotFound
	}
	var e *msqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return hookd.Errorf(hookd.ECONFLICT, "The record conflicts with an existing one.")
	}
	return err
}
