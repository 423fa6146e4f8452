package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

// retry --failed through the server's replay jobs (docs/replay.md); retry.go falls back to
// paging through the log when the server has none.

// Replay settings of retry --failed.
const (
	defaultRetryRate   = 200 // deliveries per second: a command-line run wants it done soon
	replayPollInterval = 250 * time.Millisecond
	replayItemPage     = 1000
	replaySample       = 100
	cancelTimeout      = 10 * time.Second
)

// replayFlags are the flags of retry --failed that drive a replay job.
type replayFlags struct {
	rate, window   int
	idempotencyKey string
	clientSide     bool
}

func (f *replayFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.rate, "rate", defaultRetryRate, "with --failed on hookd: deliveries the server re-sends per second")
	fl.IntVar(&f.window, "window", 0, "with --failed on hookd: most re-sent deliveries waiting for an answer at once (default: the server's, 2 × rate)")
	fl.StringVar(&f.idempotencyKey, "idempotency-key", "", "with --failed on hookd: name the replay job, so that running the command again finds it instead of starting another (default: a new key)")
	fl.BoolVar(&f.clientSide, "client-side", false, "with --failed: page through the log and retry in batches from here, even when the server has replay jobs")
}

// replayFailed does retry --failed with a replay job. handled is false when the server has no
// replay jobs: the caller then pages through the log instead.
func (r *retryRun) replayFailed(ctx context.Context, df client.DeliveryFilter, includeRetried bool) (handled bool, err error) {
	key := r.replay.idempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	p := client.ReplayParams{Filter: df, ExcludeRetried: !includeRetried, Rate: r.replay.rate, Window: r.replay.window, IdempotencyKey: key}
	if r.dryRun {
		pv, err := r.cl.PreviewReplay(ctx, p, replaySample)
		if client.ReplayUnsupported(err) {
			return false, nil
		} else if err != nil {
			return true, r.c.explain(err, "")
		}
		r.rep.Matched, r.rep.WouldRetry = int(pv.Total), pv.Sample
		r.rep.WouldRetryCount, r.rep.SkippedCount = int(pv.ToReplay), int(pv.Skipped)
		return true, r.finish()
	}
	job, err := r.cl.StartReplay(ctx, p)
	if client.ReplayUnsupported(err) {
		return false, nil
	} else if err != nil {
		return true, r.c.explain(err, "")
	}
	r.rep.ReplayID = job.ID
	fmt.Fprintf(r.a.stderr, "hookd: replay %d on the server: %d deliveries at %d/s (key %s; Ctrl-C cancels it)\n",
		job.ID, job.Total, job.Rate, key)
	job, err = r.follow(ctx, job)
	if err != nil {
		return true, err
	}
	if err := r.collectItems(ctx, job); err != nil {
		return true, r.c.explain(err, "")
	}
	if job.State == "cancelled" {
		fmt.Fprintf(r.a.stderr, "hookd: replay %d was cancelled on the server\n", job.ID)
	}
	return true, r.finish()
}

// follow polls the job until it is done or cancelled, drawing its progress. When ctx ends
// first (Ctrl-C) it cancels the job, reports what was done, and returns the interruption.
func (r *retryRun) follow(ctx context.Context, job *client.Replay) (*client.Replay, error) {
	bar := newProgress(r.a.stderr, "replaying", int(job.Total))
	defer bar.done()
	t := time.NewTicker(replayPollInterval)
	defer t.Stop()
	for !job.Finished() {
		bar.set(int(job.Processed))
		select {
		case <-ctx.Done():
			bar.done()
			return nil, r.interrupted(ctx, job.ID)
		case <-t.C:
		}
		next, err := r.cl.Replay(ctx, job.ID)
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			bar.done()
			return nil, r.interrupted(ctx, job.ID)
		} else if err != nil {
			return nil, r.c.explain(err, fmt.Sprintf("replay %d", job.ID))
		}
		job = next
	}
	bar.set(int(job.Processed))
	return job, nil
}

// interrupted cancels job id after the command was interrupted, writes the report of what
// the job did until then, and returns the interruption as the command's error.
func (r *retryRun) interrupted(ctx context.Context, id int64) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	job, err := r.cl.CancelReplay(cctx, id)
	if err != nil {
		return withExit(ExitError, fmt.Errorf("interrupted; cancelling replay %d failed, it goes on on the server: %w", id, r.c.explain(err, "")))
	}
	fmt.Fprintf(r.a.stderr, "hookd: interrupted: replay %d cancelled after %d of %d deliveries\n", id, job.Retried, job.Total)
	if err := r.collectItems(cctx, job); err == nil {
		if werr := r.write(); werr != nil {
			return werr
		}
	}
	return withExit(ExitError, errors.New("interrupted"))
}

// collectItems reads every item of the finished job into the report.
func (r *retryRun) collectItems(ctx context.Context, job *client.Replay) error {
	r.rep.Matched = int(job.Total)
	for start := 0; ; {
		items, total, err := r.cl.ReplayItems(ctx, job.ID, "", start, replayItemPage)
		if err != nil {
			return err
		}
		for _, it := range items {
			switch it.State {
			case "retried":
				r.rep.Retried = append(r.rep.Retried, retryPair{ID: it.DeliveryID, NewID: it.NewDeliveryID,
					Webhook: it.ConfigName, Trigger: it.Trigger.String()})
			case "skipped":
				r.rep.Skipped = append(r.rep.Skipped, it.DeliveryID)
			default: // failed (gone or not visible), cancelled, or still pending
				r.rep.NotRetried = append(r.rep.NotRetried, it.DeliveryID)
			}
		}
		start += len(items)
		if len(items) == 0 || (total >= 0 && int64(start) >= total) {
			return nil
		}
	}
}

// newIdempotencyKey returns a fresh key for one run of the command.
func newIdempotencyKey() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "retry-failed-" + hex.EncodeToString(b)
}
