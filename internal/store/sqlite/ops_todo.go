package sqlite

// Placeholders so the tree compiles while the operations work (metrics, retention,
// auto-disable) implements these; that work replaces this file.

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

var errOpsTodo = hookd.Errorf(hookd.ENOTIMPLEMENTED, "not implemented yet")

// DeliveryStats is not implemented yet.
func (s *Store) DeliveryStats(ctx context.Context) (*hookd.DeliveryStats, error) {
	return nil, errOpsTodo
}

// DeliveryPrune is not implemented yet.
func (s *Store) DeliveryPrune(ctx context.Context, before time.Time, limit int) (int, error) {
	return 0, errOpsTodo
}

// WebhookDisableFailing is not implemented yet.
func (s *Store) WebhookDisableFailing(ctx context.Context, since time.Time, reason string) ([]*hookd.Webhook, error) {
	return nil, errOpsTodo
}
