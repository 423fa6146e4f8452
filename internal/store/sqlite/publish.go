package sqlite

import (
	"context"
	"fmt"

	"github.com/hookd/hookd"
)

// maxPublishGroup is the most events one group commit writes: enough to spread a commit over
// many publishers, few enough that claims and records queued on the writer wait little.
//
// Concurrent EventPublish calls share write transactions (internal/store/groupcommit, one
// flush at a time on the one writer). A commit writes every page the transaction changed to
// the WAL, and the pages an event touches (the right edge of each table and index) are mostly
// the same for the next event: one commit for many events writes them once.
const maxPublishGroup = 128

// EventPublish stores an event and one delivery, due now, per matching enabled webhook, in one
// transaction (shared with concurrent calls). The deliveries come back in webhook id order.
func (s *Store) EventPublish(ctx context.Context, p *hookd.EventPublishParams) (*hookd.Event, []*hookd.Delivery, error) {
	if err := validatePublish(p); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	out, err := s.pub.Publish(ctx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("publish event: %w", err)
	}
	return out.Event, out.Deliveries, nil
}
