package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// backlogRetryAfter is the Retry-After of a publish refused because the backlog is full: long
// enough for the workers to drain some of it, short enough that a publisher's queue does not
// grow much meanwhile.
const backlogRetryAfter = 5 * time.Second

// backlogWarnEvery spaces the warnings about a backlog that cannot be read.
const backlogWarnEvery = time.Minute

// checkBacklog refuses a publish with 503 and Retry-After when the deliveries not yet final
// reach Config.MaxBacklog. A backlog that cannot be read lets the publish through, with a
// warning at most once a minute: backpressure protects the database, it must not stop
// publishing when the count itself fails.
func (a *API) checkBacklog(ctx context.Context) error {
	if a.backlog == nil || a.maxBacklog <= 0 {
		return nil
	}
	n, err := a.backlog(ctx)
	if err != nil {
		a.backlogWarn.Lock()
		warn := time.Since(a.backlogWarnedAt) >= backlogWarnEvery
		if warn {
			a.backlogWarnedAt = time.Now()
		}
		a.backlogWarn.Unlock()
		if warn {
			a.logger.WarnContext(ctx, "read the delivery backlog: publishing without backpressure", "error", err)
		}
		return nil
	}
	if n >= a.maxBacklog {
		return withRetryAfter(hookd.Errorf(hookd.EUNAVAILABLE,
			"Too many deliveries are waiting (%d, the limit is %d): publishing is paused until the workers catch up; try again in %d seconds.",
			n, a.maxBacklog, int(backlogRetryAfter.Seconds())), backlogRetryAfter)
	}
	return nil
}

// CachedBacklog returns a Config.Backlog that calls f at most once per ttl and answers from
// the last count in between, so that a busy publisher does not count the backlog on every
// request. Errors are not cached.
func CachedBacklog(f func(ctx context.Context) (int64, error), ttl time.Duration) func(ctx context.Context) (int64, error) {
	var (
		mu   sync.Mutex
		n    int64
		when time.Time
	)
	return func(ctx context.Context) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		if !when.IsZero() && time.Since(when) < ttl {
			return n, nil
		}
		v, err := f(ctx)
		if err != nil {
			return 0, err
		}
		n, when = v, time.Now()
		return n, nil
	}
}
