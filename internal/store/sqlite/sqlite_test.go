package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTest opens a store on a new file in t's temporary directory, closed at cleanup.
func openTest(t testing.TB, name string, clock hookd.Clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), name), clock)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t testing.TB, clock hookd.Clock) hookd.Store {
		s := openTest(t, "hookd.db", clock)
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}

func TestOpenCreatesFileWithoutMigrating(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Characters that mean something in a file: URI must reach the file system as they are.
	path := filepath.Join(t.TempDir(), "dir with space", "hook?d#1%.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("got no database file at %s: %v", path, err)
	}
	err = s.Ping(ctx)
	if got := hookd.ErrorCode(err); got != hookd.EUNAVAILABLE {
		t.Fatalf("Ping before Migrate: got %v (code %q), want code %q", err, got, hookd.EUNAVAILABLE)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after Migrate: %v", err)
	}
}

func TestOpenRejectsMemoryDatabase(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", ":memory:", "file:x?mode=memory"} {
		s, err := Open(context.Background(), path, nil)
		if err == nil {
			s.Close()
		}
		if got := hookd.ErrorCode(err); got != hookd.EINVALID {
			t.Errorf("Open(%q): got %v, want code %q", path, err, hookd.EINVALID)
		}
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, "p.db", nil)
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "synchronous", "1"}, // NORMAL
		{"write", "busy_timeout", "10000"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "10000"},
	} {
		db := s.write
		if tc.db == "read" {
			db = s.read
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s pool: got %s = %s, want %s", tc.db, tc.pragma, got, tc.want)
		}
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("got %d writer connections, want 1", got)
	}
}

func TestMigrateConcurrentProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	// Separate Stores stand for separate processes: each has its own writer connection.
	stores := make([]*Store, 4)
	for i := range stores {
		s, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	var n int
	if err := stores[0].read.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("got %d schema_migrations rows, want %d", n, len(ms))
	}
	for i, s := range stores {
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping %d: %v", i, err)
		}
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, "newer.db", nil)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_on) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err == nil {
		t.Error("Migrate on a newer schema: got nil error, want one")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping on a newer schema: got %v, want nil (rollback after migrate)", err)
	}
}

func TestGroupStatusSQLMatchesNoBits(t *testing.T) {
	t.Parallel()
	if got := groupStatusSQL(32); got != "0" {
		t.Errorf("got %q for an undefined bit, want %q", got, "0")
	}
}
