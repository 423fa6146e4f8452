package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// listenAppName tags the LISTEN connection in pg_stat_activity.
const listenAppName = "hookd-listen"

// Listen holds one connection, outside the pool, listening on the hookd_due channel, and
// calls wake for each notification (EventPublish and DeliveryRetry of any node send one)
// until ctx ends; then it returns nil. wake is also called each time the LISTEN is in place,
// at the start and after a reconnection, because what was sent before went unheard. A lost
// connection is reopened with backoff (100 ms doubling up to 10 s). wake runs on Listen's
// goroutine: it should return quickly (signal a channel).
func (s *Store) Listen(ctx context.Context, wake func()) error {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for {
		err := s.listenOnce(ctx, wake, func() {
			backoff = minBackoff
			wake()
		})
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("listen for due deliveries: connection lost, reconnecting",
			"err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenOnce connects, listens, calls onListen, then forwards notifications until the
// connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, wake, onListen func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenAppName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	onListen()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("listen: wait: %w", err)
		}
		wake()
	}
}
