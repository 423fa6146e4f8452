package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

// retryReport is what retry did, and the JSON document it prints.
type retryReport struct {
	DryRun  bool        `json:"dryRun"`
	Matched int         `json:"matched"` // deliveries selected: the ids given, or those --failed found
	Skipped []int64     `json:"skipped"` // --failed: already retried before, left alone
	Retried []retryPair `json:"retried"`
	// NotRetried are ids the server did not retry (unknown, not visible to the key, or in a
	// batch that failed).
	NotRetried []int64 `json:"notRetried"`
	// Unaccounted counts ids the server skipped without saying which (a server whose new
	// deliveries do not name the one they retry).
	Unaccounted int `json:"unaccounted,omitempty"`
	// WouldRetry lists, on a dry run, the deliveries a real run would retry: all of them when
	// paging through the log, the first 100 when the server's replay job answers.
	WouldRetry []*client.Delivery `json:"wouldRetry,omitempty"`
	// WouldRetryCount is, on a dry run, how many deliveries a real run would retry.
	WouldRetryCount int `json:"wouldRetryCount,omitempty"`
	// SkippedCount is how many deliveries were left alone as already retried, when the server
	// counted them without listing them (a replay job's dry run).
	SkippedCount int `json:"skippedCount,omitempty"`
	// ReplayID is the server's replay job that did the work, 0 when the CLI paged through the
	// log and retried in batches itself.
	ReplayID int64 `json:"replayId,omitempty"`
}

// retryPair links a retried delivery to the new delivery that re-sends it.
type retryPair struct {
	ID      int64  `json:"id"`    // the delivery that was retried (0 if the server did not say)
	NewID   int64  `json:"newId"` // the new delivery
	Webhook string `json:"webhook,omitempty"`
	Trigger string `json:"trigger,omitempty"`
}

func newRetryCmd(a *app) *cobra.Command {
	c := &conn{}
	f := &logFlags{}
	var failed, dryRun, includeRetried bool
	var batch int
	rp := &replayFlags{}
	cmd := &cobra.Command{
		Use:   "retry ID... | retry --failed [filters]",
		Short: "Send deliveries again, as new deliveries",
		Long: `Send deliveries again. Each retry creates a new delivery (new id, same payload) linked to
the one it retries, as DocSpace does.

retry ID... retries the given deliveries. retry --failed retries every delivery whose last
attempt failed (narrowed by the filters). The selection is taken before the first retry, so
deliveries created meanwhile, including the retries themselves, are not picked up. A
delivery that was already retried before is left alone unless --include-retried is given.
The exit code is 6 when some could not be retried.

Against a hookd server, retry --failed starts a replay job on the server (docs/replay.md):
the server re-sends the deliveries at --rate per second, with at most --window of them
waiting for an answer, and the command shows its progress until it is done. Ctrl-C cancels
the job. Repeating the command with the same --idempotency-key finds the job it started
instead of starting another. Against DocSpace, or with --client-side, the command pages
through the log and retries in batches of at most 100 itself.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 || batch > client.MaxPageSize {
				return withExit(ExitUsage, fmt.Errorf("--batch-size %d: use 1 to %d", batch, client.MaxPageSize))
			}
			if failed == (len(args) > 0) {
				return withExit(ExitUsage, errors.New("give delivery ids, or --failed with optional filters"))
			}
			r := &retryRun{a: a, c: c, batch: batch, dryRun: dryRun, replay: rp}
			if !failed {
				for _, name := range []string{"since", "from", "to", "hook-uri", "webhook", "user-id", "trigger", "include-retried",
					"rate", "window", "idempotency-key", "client-side"} {
					if cmd.Flags().Changed(name) {
						return withExit(ExitUsage, fmt.Errorf("--%s works with --failed only", name))
					}
				}
				ids, err := parseIDs(args, "delivery")
				if err != nil {
					return err
				}
				return r.ids(cmd.Context(), ids)
			}
			f.count = client.MaxPageSize
			df, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			return r.failed(cmd.Context(), df, includeRetried)
		},
	}
	addConnFlags(a, cmd, c)
	f.add(cmd, false)
	fl := cmd.Flags()
	fl.BoolVar(&failed, "failed", false, "retry every delivery whose last attempt failed (with the filters given)")
	fl.BoolVar(&dryRun, "dry-run", false, "list what would be retried, retry nothing")
	fl.BoolVar(&includeRetried, "include-retried", false, "with --failed, also retry deliveries already retried before")
	fl.IntVar(&batch, "batch-size", client.MaxPageSize, "ids per retry request, at most 100")
	rp.add(cmd)
	return cmd
}

// retryRun is one run of the retry command.
type retryRun struct {
	a      *app
	c      *conn
	cl     *client.Client
	batch  int
	dryRun bool
	replay *replayFlags
	rep    retryReport
	// batchFailed is set when a batch failed as a whole (not because its ids were unknown).
	batchFailed bool
}

// ids retries the given delivery ids.
func (r *retryRun) ids(ctx context.Context, ids []int64) error {
	cl, err := r.c.client(r.a)
	if err != nil {
		return err
	}
	r.cl = cl
	r.rep.Matched = len(ids)
	if r.dryRun {
		for _, id := range ids {
			d, err := cl.Delivery(ctx, id)
			if err != nil {
				if client.IsNotFound(err) {
					r.rep.NotRetried = append(r.rep.NotRetried, id)
					continue
				}
				return r.c.explain(err, "delivery "+strconv.FormatInt(id, 10))
			}
			r.rep.WouldRetry = append(r.rep.WouldRetry, d)
		}
		return r.finish()
	}
	if len(ids) == 1 {
		d, err := cl.Retry(ctx, ids[0])
		if err != nil {
			return r.c.explain(err, "delivery "+strconv.FormatInt(ids[0], 10))
		}
		r.rep.Retried = append(r.rep.Retried, pairOf(ids[0], d))
		return r.finish()
	}
	if err := r.send(ctx, ids); err != nil {
		return err
	}
	return r.finish()
}

// failed finds every failed delivery matching df, then retries them.
func (r *retryRun) failed(ctx context.Context, df client.DeliveryFilter, includeRetried bool) error {
	cl, err := r.c.client(r.a)
	if err != nil {
		return err
	}
	r.cl = cl
	df.GroupStatus = client.GroupStatusFailed
	if !r.replay.clientSide {
		if handled, err := r.replayFailed(ctx, df, includeRetried); handled {
			return err
		}
	}
	rows, hookd, err := r.collect(ctx, df)
	var ce *client.Error
	if errors.As(err, &ce) && ce.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(ce.Message), "groupstatus") {
		// DocSpace has no Failed class: a delivery without an answer has status 0 there,
		// like one not sent yet, so take that class and every non-2xx one.
		fmt.Fprintln(r.a.stderr, "hookd: the server does not know the Failed filter (not hookd?); selecting not-sent, 3xx, 4xx and 5xx")
		df.GroupStatus = client.GroupStatusDocSpaceFailed
		rows, hookd, err = r.collect(ctx, df)
	}
	if err != nil {
		return r.c.explain(err, "")
	}
	r.rep.Matched = len(rows)
	if len(rows) > 0 && !includeRetried {
		if !hookd {
			fmt.Fprintln(r.a.stderr, "hookd: the server does not link retries to the deliveries they retry: deliveries retried before are retried again")
		} else if rows, err = r.dropRetried(ctx, df, rows); err != nil {
			return r.c.explain(err, "")
		}
	}
	if r.dryRun {
		r.rep.WouldRetry = rows
		return r.finish()
	}
	ids := make([]int64, len(rows))
	for i, d := range rows {
		ids[i] = d.ID
	}
	if err := r.send(ctx, ids); err != nil {
		return err
	}
	return r.finish()
}

// collect pages through every delivery matching df, pinned to those that existed when it
// started, oldest first so that retries go out in the order the events happened. hookd
// reports whether the server is hookd (its rows carry a state and a retryOf link).
func (r *retryRun) collect(ctx context.Context, df client.DeliveryFilter) (rows []*client.Delivery, hookd bool, err error) {
	p := r.cl.DeliveryPager(df)
	bar := newProgress(r.a.stderr, "finding failed deliveries", 0)
	defer bar.done()
	for {
		page, err := p.Next(ctx)
		if err != nil {
			return nil, false, err
		}
		if len(page) == 0 {
			break
		}
		bar.total = int(p.Total())
		for _, d := range page {
			hookd = hookd || d.State != ""
		}
		rows = append(rows, page...)
		bar.set(len(rows))
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, hookd, nil
}

// dropRetried leaves out the deliveries that a later delivery already retried: running
// retry --failed twice must not send the same event twice to a receiver that has recovered.
// It reads the log, whatever the status, from the newest delivery down to the oldest failed
// one, looking for retryOf links.
func (r *retryRun) dropRetried(ctx context.Context, df client.DeliveryFilter, rows []*client.Delivery) ([]*client.Delivery, error) {
	want := make(map[int64]bool, len(rows))
	oldest := rows[0].ID
	for _, d := range rows {
		want[d.ID] = true
		oldest = min(oldest, d.ID)
	}
	// A retry has the webhook and trigger of the delivery it retries, but not its status or
	// answer time: keep only those filters.
	scan := client.DeliveryFilter{HookURI: df.HookURI, ConfigID: df.ConfigID, UserID: df.UserID, Trigger: df.Trigger}
	p := r.cl.DeliveryPager(scan)
	retried := map[int64]bool{}
	bar := newProgress(r.a.stderr, "checking earlier retries", 0)
	defer bar.done()
	seen := 0
walk:
	for {
		page, err := p.Next(ctx)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			if d.ID < oldest {
				break walk // a retry is always newer than what it retries
			}
			if d.RetryOf != 0 && want[d.RetryOf] {
				retried[d.RetryOf] = true
			}
		}
		seen += len(page)
		bar.set(seen)
	}
	kept := rows[:0]
	for _, d := range rows {
		if retried[d.ID] {
			r.rep.Skipped = append(r.rep.Skipped, d.ID)
			continue
		}
		kept = append(kept, d)
	}
	return kept, nil
}

// send retries ids in batches. An error that every further batch would meet (the key, the
// server gone) ends the run; any other failed batch is recorded and the run goes on.
func (r *retryRun) send(ctx context.Context, ids []int64) error {
	bar := newProgress(r.a.stderr, "retrying", len(ids))
	defer bar.done()
	for start := 0; start < len(ids); start += r.batch {
		chunk := ids[start:min(start+r.batch, len(ids))]
		news, err := r.cl.RetryBatch(ctx, chunk)
		if err != nil {
			xerr := r.c.explain(err, "")
			var ee *exitError
			if errors.As(xerr, &ee) && (ee.code == ExitAuth || ee.code == ExitUnreachable || errors.Is(err, context.Canceled)) {
				r.rep.NotRetried = append(r.rep.NotRetried, ids[start:]...)
				bar.done()
				if werr := r.write(); werr != nil {
					return werr
				}
				return xerr
			}
			fmt.Fprintf(r.a.stderr, "hookd: a batch of %d failed and is counted as not retried: %v\n", len(chunk), xerr)
			r.rep.NotRetried = append(r.rep.NotRetried, chunk...)
			r.batchFailed = true
			continue
		}
		r.match(chunk, news)
		bar.set(min(start+r.batch, len(ids)))
	}
	return nil
}

// match pairs the new deliveries of a batch with the ids sent, by their retryOf link, or by
// position when the server does not give it and nothing was skipped.
func (r *retryRun) match(chunk []int64, news []*client.Delivery) {
	linked := len(news) > 0
	for _, d := range news {
		linked = linked && d.RetryOf != 0
	}
	switch {
	case linked:
		left := map[int64]int{}
		for _, id := range chunk {
			left[id]++
		}
		for _, d := range news {
			r.rep.Retried = append(r.rep.Retried, pairOf(d.RetryOf, d))
			left[d.RetryOf]--
		}
		for _, id := range chunk {
			if left[id] > 0 {
				left[id]--
				r.rep.NotRetried = append(r.rep.NotRetried, id)
			}
		}
	case len(news) == len(chunk):
		for i, d := range news {
			r.rep.Retried = append(r.rep.Retried, pairOf(chunk[i], d))
		}
	default:
		for _, d := range news {
			r.rep.Retried = append(r.rep.Retried, pairOf(0, d))
		}
		r.rep.Unaccounted += len(chunk) - len(news)
	}
}

func pairOf(id int64, d *client.Delivery) retryPair {
	if d.RetryOf != 0 {
		id = d.RetryOf
	}
	return retryPair{ID: id, NewID: d.ID, Webhook: d.ConfigName, Trigger: d.Trigger.String()}
}

// finish prints the report and decides the exit code: 0 when everything selected was
// retried, ExitNotFound when none of the ids was known, ExitPartial otherwise.
func (r *retryRun) finish() error {
	if err := r.write(); err != nil {
		return err
	}
	rep := &r.rep
	missing := len(rep.NotRetried) + rep.Unaccounted
	if missing == 0 {
		return nil
	}
	nothing := len(rep.Retried) == 0 && len(rep.WouldRetry) == 0
	switch {
	case nothing && !r.batchFailed:
		what := joinIDs(rep.NotRetried)
		if what == "" {
			what = "the ids given"
		}
		return withExit(ExitNotFound, fmt.Errorf("no delivery could be retried: %s unknown or not visible to this key", what))
	case nothing:
		return withExit(ExitError, fmt.Errorf("no delivery could be retried: %s", joinIDs(rep.NotRetried)))
	case r.dryRun:
		return withExit(ExitPartial, fmt.Errorf("%d of %d deliveries were not found: %s", missing, rep.Matched, joinIDs(rep.NotRetried)))
	}
	msg := fmt.Sprintf("%d of %d deliveries could not be retried", missing, rep.Matched)
	if len(rep.NotRetried) > 0 {
		msg += ": " + joinIDs(rep.NotRetried)
	}
	return withExit(ExitPartial, errors.New(msg))
}

// write prints the report: JSON, or a table and a summary line.
func (r *retryRun) write() error {
	rep := &r.rep
	for _, s := range []*[]int64{&rep.Skipped, &rep.NotRetried} {
		if *s == nil {
			*s = []int64{}
		}
	}
	if rep.Retried == nil {
		rep.Retried = []retryPair{}
	}
	rep.DryRun = r.dryRun
	if r.dryRun && rep.WouldRetryCount == 0 {
		rep.WouldRetryCount = len(rep.WouldRetry) // paged: every one is listed
	}
	if r.c.json() {
		return writeJSON(r.a.stdout, rep)
	}
	w := r.a.stdout
	if r.dryRun {
		if err := writeDeliveries(w, rep.WouldRetry); err != nil {
			return err
		}
		shown := ""
		if rep.WouldRetryCount > len(rep.WouldRetry) {
			shown = fmt.Sprintf(" (the first %d shown)", len(rep.WouldRetry))
		}
		_, err := fmt.Fprintf(w, "dry run: would retry %d of %d deliveries%s%s\n", rep.WouldRetryCount, rep.Matched, skippedNote(rep), shown)
		return err
	}
	if len(rep.Retried) > 0 && len(rep.Retried) <= 1000 {
		t := newTable(w, "RETRIED", "NEW ID", "WEBHOOK", "TRIGGER")
		for _, p := range rep.Retried {
			t.row(idOrDash(p.ID), strconv.FormatInt(p.NewID, 10), orDash(p.Webhook), p.Trigger)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "retried %d of %d deliveries%s\n", len(rep.Retried), rep.Matched, skippedNote(rep))
	return err
}

func skippedNote(rep *retryReport) string {
	n := max(len(rep.Skipped), rep.SkippedCount)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d already retried before, left alone; --include-retried retries them too)", n)
}

// joinIDs lists ids, the first 20 of them.
func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 20 {
			fmt.Fprintf(&b, " and %d more", len(ids)-20)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}
