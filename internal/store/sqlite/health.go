package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/hookd/hookd"
)

// Placeholders until the issue 9 store work lands.

// WebhookHealthSet is not implemented yet.
func (s *Store) WebhookHealthSet(ctx context.Context, p *hookd.WebhookHealthParams) (*hookd.Webhook, bool, error) {
	return nil, false, errors.New("webhook health: not implemented")
}

// WebhookProbeDue is not implemented yet.
func (s *Store) WebhookProbeDue(ctx context.Context, lease time.Duration) ([]*hookd.Webhook, error) {
	return nil, nil
}

// EventPublishBatch publishes the events one by one (placeholder: not one transaction).
func (s *Store) EventPublishBatch(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	out := make([]*hookd.Published, 0, len(ps))
	for _, p := range ps {
		ev, ds, err := s.EventPublish(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, &hookd.Published{Event: ev, Deliveries: ds})
	}
	return out, nil
}
