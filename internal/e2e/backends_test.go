package e2e

import (
	"path/filepath"
	"testing"
)

// forEachBackend runs fn once per store backend, with the database URL to give the server.
func forEachBackend(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		fn(t, "sqlite:"+filepath.Join(t.TempDir(), "hookd.db"))
	})
}
