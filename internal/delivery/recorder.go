package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// recordLoop writes what the senders hand over: finished attempts with AttemptRecord, claims
// not started with DeliveryRelease. It writes a batch when RecordBatch items are waiting or
// no more are, then frees their slots and wakes the dispatcher. It returns when in closes.
func (w *Worker) recordLoop(ctx context.Context, in <-chan done, slots <-chan struct{}) {
	for {
		first, ok := <-in
		if !ok {
			return
		}
		batch := []done{first}
		closed := false
	collect:
		for len(batch) < w.cfg.RecordBatch {
			select {
			case d, ok := <-in:
				if !ok {
					closed = true
					break collect
				}
				batch = append(batch, d)
			default:
				break collect
			}
		}
		w.flush(ctx, batch)
		for range batch {
			<-slots
		}
		w.Wake()
		if closed {
			return
		}
	}
}

// flush writes one batch, retrying while the database fails: a result is never dropped
// before ctx ends (at shutdown, after a grace period), and even then the delivery's lease
// brings it back.
func (w *Worker) flush(ctx context.Context, batch []done) {
	var results []*hookd.AttemptResult
	var releases []*hookd.Claim
	for _, d := range batch {
		if d.result != nil {
			results = append(results, d.result)
		} else {
			releases = append(releases, d.release)
		}
	}
	if len(results) > 0 {
		w.retry(ctx, "record attempts", len(results), func(ctx context.Context) error {
			return w.store.AttemptRecord(ctx, results)
		})
	}
	if len(releases) > 0 {
		w.retry(ctx, "release claims", len(releases), func(ctx context.Context) error {
			return w.store.DeliveryRelease(ctx, releases)
		})
	}
}

// retry calls fn until it succeeds or ctx ends, waiting longer after each failure, and logs
// each failure.
func (w *Worker) retry(ctx context.Context, what string, n int, fn func(context.Context) error) {
	backoff := 50 * time.Millisecond
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for try := 1; ; try++ {
		err := fn(ctx)
		if err == nil {
			if try > 1 {
				w.log.Info(what+": succeeded after retries", "count", n, "tries", try)
			}
			return
		}
		if hookd.ErrorCode(err) == hookd.EINVALID {
			// The store refused the batch itself: trying again cannot help. The leases make
			// these deliveries due again.
			w.log.Error(what+": refused by the store, dropped", "count", n, "err", err)
			return
		}
		if ctx.Err() != nil {
			w.log.Error(what+": giving up at shutdown; the leases will make these deliveries due again",
				"count", n, "tries", try, "err", err)
			return
		}
		w.log.Error(what+": will retry", "count", n, "try", try, "retry_in", backoff, "err", err)
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		backoff = min(2*backoff, maxRecordBackoff)
	}
}
