package e2e

import (
	"path/filepath"
	"testing"

	"github.com/hookd/hookd/internal/server"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// noHealth turns endpoint health off, for tests that need deliveries to a dead receiver to
// fail for good (as after an outage longer than the retry schedule) rather than wait, held,
// for the webhook to resume (docs/health.md; tested in health_test.go).
func noHealth(c *server.Config) { c.HealthOff = true }

// forEachBackend runs fn once per store backend, with the database URL to give the server.
// PostgreSQL needs TEST_DATABASE_URL: without it the subtest is skipped locally and fails
// under CI=true.
func forEachBackend(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		fn(t, "sqlite:"+filepath.Join(t.TempDir(), "hookd.db"))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		fn(t, pgtest.TestURL(t))
	})
}
