package postgres_test

import (
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
	"github.com/hookd/hookd/internal/store/storetest"
)

// TestStore runs the Store contract suite, each subtest on its own database cloned from the
// migrated template.
func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t testing.TB, clock hookd.Clock) hookd.Store {
		return pgtest.OpenTest(t, clock)
	})
}
