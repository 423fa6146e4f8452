package hookd

import (
	"slices"
	"time"
)

// ReplayState is where a replay job is in its life: queued → running → done, or cancelled
// from queued or running.
type ReplayState string

// The replay job states.
const (
	ReplayStateQueued    ReplayState = "queued"    // created, no item processed yet
	ReplayStateRunning   ReplayState = "running"   // some items processed, some pending
	ReplayStateDone      ReplayState = "done"      // every item processed
	ReplayStateCancelled ReplayState = "cancelled" // stopped by a person; the rest was not replayed
)

// Final reports whether the job will not change any more.
func (s ReplayState) Final() bool { return s == ReplayStateDone || s == ReplayStateCancelled }

// ReplayItemState is what happened to one pinned delivery of a replay job.
type ReplayItemState string

// The replay item states.
const (
	ReplayItemPending   ReplayItemState = "pending"   // not processed yet
	ReplayItemRetried   ReplayItemState = "retried"   // a new delivery re-sends it (NewDeliveryID)
	ReplayItemSkipped   ReplayItemState = "skipped"   // already retried by another delivery, left alone (ExcludeRetried)
	ReplayItemFailed    ReplayItemState = "failed"    // could not be re-created: deleted since, or not visible any more
	ReplayItemCancelled ReplayItemState = "cancelled" // the job was cancelled before its turn
)

// Replay pacing defaults and limits.
const (
	DefaultReplayRate = 50      // deliveries per second when a job does not say
	MaxReplayRate     = 10000   // the fastest a job may go
	MaxReplayWindow   = 10000   // the largest window a job may ask for
	MaxReplayItems    = 1 << 20 // the most deliveries one job may pin; narrow the filter beyond
	MaxReplaySample   = 100     // the most sample ids a dry run returns
	minReplayStep     = 100 * time.Millisecond
)

// Replay is an asynchronous job that re-sends, as new deliveries (RetryOf set), every delivery
// that matched a log filter when it was created. The matching ids are pinned at creation (the
// items); a runner then retries them in id order, at most Rate per second and with at most
// Window of its new deliveries waiting for an answer, so that a slow or rate-limiting receiver
// slows the job down instead of being flooded.
type Replay struct {
	ID    int64
	State ReplayState
	// Filter is the log filter the items were selected with; Filter.MaxID is the largest
	// delivery id that existed at creation (or the caller's own MaxID), so the job never picks
	// up deliveries created later, its own retries included. Offset and Limit are not used.
	// Filter.CreatedBy restricts both the selection and the retries (non-admin callers).
	Filter DeliveryFilter
	// ExcludeRetried leaves alone (skips) deliveries that another delivery already retries,
	// at creation and again when their turn comes.
	ExcludeRetried bool
	Rate           int // new deliveries per second
	Window         int // the most new deliveries of the job that may wait for an answer at once

	IdempotencyKey string // with CreatedBy, identifies the request that created the job; "" for none
	CreatedBy      string // the user who started the job; the new deliveries are recorded under it
	CreatedOn      time.Time
	StartedOn      *time.Time // first item processed
	FinishedOn     *time.Time // done or cancelled
	NextStepAt     time.Time  // when the runner may process the next items

	Total     int64 // items pinned at creation
	Retried   int64 // items re-sent as a new delivery
	Skipped   int64 // items left alone, already retried
	Failed    int64 // items that could not be re-created
	Cancelled int64 // items left when the job was cancelled
}

// Processed is the number of items dealt with, whatever the outcome.
func (r *Replay) Processed() int64 { return r.Retried + r.Skipped + r.Failed + r.Cancelled }

// Pending is the number of items still to process.
func (r *Replay) Pending() int64 { return r.Total - r.Processed() }

// DefaultReplayWindow is the window of a job that does not choose one: two seconds' worth of
// deliveries at its rate, at least 10 and at most 1,000.
func DefaultReplayWindow(rate int) int { return min(max(2*rate, 10), 1000) }

// ReplayChunk returns how many items one step of a job processes and how long the next step
// must wait, so that the job keeps its rate: about ten steps a second, fewer at low rates,
// never more than limit items at once. Both stores pace with it.
func ReplayChunk(rate, limit int) (int, time.Duration) {
	if rate < 1 {
		rate = DefaultReplayRate
	}
	n := max(1, (rate+9)/10)
	if limit > 0 {
		n = min(n, limit)
	}
	return n, time.Duration(n) * time.Second / time.Duration(rate)
}

// ReplayBackoff is how long a job whose window is full waits before it looks again.
func ReplayBackoff(rate int) time.Duration {
	_, d := ReplayChunk(rate, 0)
	return max(d, minReplayStep)
}

// ReplayParams are the arguments of Store.ReplayCreate and Store.ReplayPreview.
type ReplayParams struct {
	Filter         DeliveryFilter // log filters; MaxID nil means every delivery that exists now
	ExcludeRetried bool
	Rate           int    // 1..MaxReplayRate
	Window         int    // 1..MaxReplayWindow
	IdempotencyKey string // "" for none
	CreatedBy      string // the caller's user id
	Sample         int    // ReplayPreview only: how many ids to return, at most MaxReplaySample
}

// ReplayPreview is what a job with the same parameters would do, without creating it.
type ReplayPreview struct {
	Total     int64   // deliveries that match
	Skipped   int64   // of those, already retried (counted only with ExcludeRetried)
	MaxID     int64   // the pin a job created now would use
	SampleIDs []int64 // the first ids that would be replayed, oldest first
}

// ReplayFilter selects jobs for ReplayList. Nil fields do not filter.
type ReplayFilter struct {
	CreatedBy *string // only jobs started by this user
	Offset    int
	Limit     int // 0 means no limit
}

// ReplayItem is one pinned delivery of a job and what became of it.
type ReplayItem struct {
	ReplayID      int64
	DeliveryID    int64 // the delivery to re-send
	State         ReplayItemState
	NewDeliveryID int64      // the delivery that re-sends it, 0 until retried
	ProcessedOn   *time.Time // when the runner dealt with it
	// Read with ReplayItemList from the original delivery; zero when it no longer exists.
	WebhookID   int64
	WebhookName string
	Trigger     Trigger
}

// ReplayItemFilter selects the items of one job for ReplayItemList, in delivery id order.
type ReplayItemFilter struct {
	ReplayID int64
	State    ReplayItemState // "" = every state
	Offset   int
	Limit    int // 0 means no limit
}

// ReplayStepParams are the arguments of Store.ReplayStep.
type ReplayStepParams struct {
	// Limit caps the items of one step, whatever the job's rate; 0 means 500.
	Limit int
}

// ReplayStepResult is what one step did.
type ReplayStepResult struct {
	Replay *Replay       // the job after the step; nil when no job was due
	Items  []*ReplayItem // the items processed, in delivery id order
	// NextStepAt is when the next step of any active job is due (this one included); the
	// zero time when no job is queued or running.
	NextStepAt time.Time
}

// Validate checks the arguments of ReplayCreate and ReplayPreview.
func (p *ReplayParams) Validate() error {
	switch {
	case p.Rate < 1 || p.Rate > MaxReplayRate:
		return Errorf(EINVALID, "The rate must be from 1 to %d deliveries per second, got %d.", MaxReplayRate, p.Rate)
	case p.Window < 1 || p.Window > MaxReplayWindow:
		return Errorf(EINVALID, "The window must be from 1 to %d deliveries, got %d.", MaxReplayWindow, p.Window)
	case p.Sample < 0 || p.Sample > MaxReplaySample:
		return Errorf(EINVALID, "The sample must be from 0 to %d ids, got %d.", MaxReplaySample, p.Sample)
	case len(p.IdempotencyKey) > 255:
		return Errorf(EINVALID, "The idempotency key must be at most 255 characters long.")
	}
	return nil
}

// ReplayOutcome is what one replay step did to its items, in the items' order.
type ReplayOutcome struct {
	Items                    []*ReplayItem
	Retried, Skipped, Failed int64 // the items of each state
}

// ReplayOutcomes sorts the items ids of job replayID that a step processed at now: skipped when
// in retried (the job excludes deliveries retried before and a retry of it exists), retried
// when created maps it to its new delivery, failed otherwise (the delivery is gone, or its
// webhook is not the job creator's). Both stores record a step with it.
func ReplayOutcomes(replayID int64, ids, retried []int64, created map[int64]int64, now time.Time) *ReplayOutcome {
	out := &ReplayOutcome{Items: make([]*ReplayItem, 0, len(ids))}
	at := now
	for _, id := range ids {
		it := &ReplayItem{ReplayID: replayID, DeliveryID: id, ProcessedOn: &at}
		switch newID, ok := created[id]; {
		case slices.Contains(retried, id):
			it.State = ReplayItemSkipped
			out.Skipped++
		case ok:
			it.State, it.NewDeliveryID = ReplayItemRetried, newID
			out.Retried++
		default:
			it.State = ReplayItemFailed
			out.Failed++
		}
		out.Items = append(out.Items, it)
	}
	return out
}
