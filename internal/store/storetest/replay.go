package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

const replayer = "cccccccc-0000-4000-8000-00000000000c"

// replayParams returns fast, wide-window parameters for a job of filter f.
func replayParams(f hookd.DeliveryFilter) *hookd.ReplayParams {
	return &hookd.ReplayParams{Filter: f, Rate: 1000, Window: 1000, CreatedBy: replayer}
}

// failed publishes n events to the harness's webhooks and records a failed attempt (500) for
// each delivery; it returns the deliveries in id order.
func (h *harness) failed(t testing.TB, n int) []int64 {
	t.Helper()
	var out []int64
	for range n {
		_, ds := h.publish(t, trigFileCreated)
		out = append(out, ids(ds)...)
	}
	cs := h.claim(t, len(out))
	if len(cs) != len(out) {
		t.Fatalf("got %d claims, want %d", len(cs), len(out))
	}
	for _, c := range cs {
		h.record(t, h.result(c, 500))
	}
	return out
}

// createReplay creates a job and fails the test unless it is new.
func (h *harness) createReplay(t testing.TB, p *hookd.ReplayParams) *hookd.Replay {
	t.Helper()
	r, created, err := h.s.ReplayCreate(h.ctx, p)
	if err != nil {
		t.Fatalf("ReplayCreate: %v", err)
	}
	if !created {
		t.Fatalf("ReplayCreate: got an existing job %d, want a new one", r.ID)
	}
	return r
}

// step runs ReplayStep and fails the test on error.
func (h *harness) step(t testing.TB, limit int) *hookd.ReplayStepResult {
	t.Helper()
	res, err := h.s.ReplayStep(h.ctx, &hookd.ReplayStepParams{Limit: limit})
	if err != nil {
		t.Fatalf("ReplayStep: %v", err)
	}
	return res
}

// items lists every item of job id.
func (h *harness) items(t testing.TB, id int64, state hookd.ReplayItemState) []*hookd.ReplayItem {
	t.Helper()
	its, total, err := h.s.ReplayItemList(h.ctx, hookd.ReplayItemFilter{ReplayID: id, State: state})
	if err != nil {
		t.Fatalf("ReplayItemList: %v", err)
	}
	if total != int64(len(its)) {
		t.Errorf("ReplayItemList: got total %d for %d items, want equal", total, len(its))
	}
	return its
}

func itemIDs(its []*hookd.ReplayItem) []int64 {
	out := make([]int64, 0, len(its))
	for _, it := range its {
		out = append(out, it.DeliveryID)
	}
	return out
}

// counts is a job's progress, for comparing in one line.
type counts struct{ Total, Retried, Skipped, Failed, Cancelled int64 }

func countsOf(r *hookd.Replay) counts {
	return counts{r.Total, r.Retried, r.Skipped, r.Failed, r.Cancelled}
}

var replayTests = []test{
	{"ReplayPinsTheLogFilter", func(t *testing.T, h *harness) {
		f := newLogFixture(t, h)
		for _, fc := range f.filterCases() {
			var want []int64
			for _, d := range f.all {
				if fc.keep(d, f.byID[d.WebhookID]) {
					want = append(want, d.ID)
				}
			}
			slices.Sort(want)
			pv, err := h.s.ReplayPreview(h.ctx, &hookd.ReplayParams{Filter: fc.filter, Rate: 1, Window: 1, Sample: 100})
			if err != nil {
				t.Fatalf("%s: ReplayPreview: %v", fc.name, err)
			}
			if pv.Total != int64(len(want)) || pv.Skipped != 0 {
				t.Errorf("%s: got preview total %d skipped %d, want %d and 0", fc.name, pv.Total, pv.Skipped, len(want))
			}
			diff(t, fc.name+" preview sample", pv.SampleIDs, want)
			r := h.createReplay(t, replayParams(fc.filter))
			diff(t, fc.name+" pinned items", itemIDs(h.items(t, r.ID, "")), want)
			if r.Total != int64(len(want)) {
				t.Errorf("%s: got total %d, want %d", fc.name, r.Total, len(want))
			}
		}
	}},
	{"ReplayRetriesPinnedDeliveriesInOrder", func(t *testing.T, h *harness) {
		w := h.webhook(t)
		orig := h.failed(t, 3)
		_, ok := h.publish(t, trigFileCreated) // pending: not Failed
		created := h.clock.Advance(time.Second)
		r := h.createReplay(t, replayParams(hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusFailed}))
		want := &hookd.Replay{ID: r.ID, State: hookd.ReplayStateQueued,
			Filter: hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusFailed, MaxID: ptr(ok[0].ID)},
			Rate:   1000, Window: 1000, CreatedBy: replayer, CreatedOn: created, NextStepAt: created, Total: 3}
		diff(t, "created job", r, want)
		diff(t, "stored job", mustReplay(t, h, r.ID), want)
		// Failures after the pin are not picked up.
		h.failed(t, 1)

		stepped := h.clock.Advance(time.Second)
		res := h.step(t, 0)
		if res.Replay == nil || res.Replay.ID != r.ID {
			t.Fatalf("got step of %+v, want job %d", res.Replay, r.ID)
		}
		diff(t, "step items", itemIDs(res.Items), orig)
		got := res.Replay
		if got.State != hookd.ReplayStateDone || countsOf(got) != (counts{Total: 3, Retried: 3}) {
			t.Errorf("got job %s %+v, want done with 3 retried", got.State, countsOf(got))
		}
		if got.StartedOn == nil || !got.StartedOn.Equal(stepped) || got.FinishedOn == nil || !got.FinishedOn.Equal(stepped) {
			t.Errorf("got started %v finished %v, want both %v", got.StartedOn, got.FinishedOn, stepped)
		}
		if !res.NextStepAt.IsZero() {
			t.Errorf("got next step %v with no job left, want zero", res.NextStepAt)
		}
		its := h.items(t, r.ID, "")
		for i, it := range its {
			if it.State != hookd.ReplayItemRetried || it.NewDeliveryID == 0 || it.ProcessedOn == nil || !it.ProcessedOn.Equal(stepped) {
				t.Fatalf("item %d: got %+v, want retried at %v", i, it, stepped)
			}
			if it.WebhookID != w.ID || it.WebhookName != w.Name || it.Trigger != trigFileCreated {
				t.Errorf("item %d: got webhook %d %q trigger %d, want the original's", i, it.WebhookID, it.WebhookName, it.Trigger)
			}
			d := h.get(t, it.NewDeliveryID)
			if d.RetryOf != it.DeliveryID || d.State != hookd.DeliveryStatePending || d.CreatedBy != replayer || !d.NextAttemptAt.Equal(stepped) {
				t.Errorf("new delivery %d: got retryOf %d state %s by %q due %v, want a pending retry of %d by %q due now",
					d.ID, d.RetryOf, d.State, d.CreatedBy, d.NextAttemptAt, it.DeliveryID, replayer)
			}
			if i > 0 && it.NewDeliveryID <= its[i-1].NewDeliveryID {
				t.Errorf("new ids %d, %d: want them ascending in the items' order", its[i-1].NewDeliveryID, it.NewDeliveryID)
			}
		}
		// A finished job is never stepped again.
		if res := h.step(t, 0); res.Replay != nil || len(res.Items) != 0 {
			t.Errorf("got a step of a done job: %+v", res)
		}
	}},
	{"ReplayPacesItsSteps", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 7)
		r := h.createReplay(t, &hookd.ReplayParams{Filter: hookd.DeliveryFilter{}, Rate: 20, Window: 100, CreatedBy: replayer})
		n, wait := hookd.ReplayChunk(20, 0)
		if n != 2 || wait != 100*time.Millisecond {
			t.Fatalf("ReplayChunk(20): got %d every %v, want 2 every 100ms", n, wait)
		}
		res := h.step(t, 0)
		now := h.clock.Now()
		if len(res.Items) != 2 || res.Replay.State != hookd.ReplayStateRunning || !res.NextStepAt.Equal(now.Add(wait)) {
			t.Fatalf("first step: got %d items, state %s, next %v; want 2, running, %v", len(res.Items), res.Replay.State, res.NextStepAt, now.Add(wait))
		}
		if next, err := h.s.ReplayNextDue(h.ctx); err != nil || !next.Equal(now.Add(wait)) {
			t.Errorf("ReplayNextDue: got %v, %v, want %v", next, err, now.Add(wait))
		}
		// Not due yet: nothing happens.
		h.clock.Advance(wait - time.Millisecond)
		if res := h.step(t, 0); res.Replay != nil || !res.NextStepAt.Equal(now.Add(wait)) {
			t.Errorf("early step: got %+v, want none, next %v", res, now.Add(wait))
		}
		h.clock.Advance(time.Millisecond)
		// The step limit caps a step below the job's chunk.
		if res := h.step(t, 1); len(res.Items) != 1 {
			t.Errorf("limited step: got %d items, want 1", len(res.Items))
		}
		for range 10 {
			h.clock.Advance(time.Second)
			h.step(t, 0)
		}
		if got := mustReplay(t, h, r.ID); got.State != hookd.ReplayStateDone || got.Retried != 7 || got.Pending() != 0 {
			t.Errorf("got %s with %d retried, %d pending, want done with 7", got.State, got.Retried, got.Pending())
		}
	}},
	{"ReplayWindowWaitsForAnswers", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 6)
		r := h.createReplay(t, &hookd.ReplayParams{Rate: 1000, Window: 2, CreatedBy: replayer})
		if res := h.step(t, 0); len(res.Items) != 2 {
			t.Fatalf("first step: got %d items, want the window's 2", len(res.Items))
		}
		h.clock.Advance(time.Second)
		res := h.step(t, 0)
		if res.Replay == nil || len(res.Items) != 0 {
			t.Fatalf("full window: got %d items, want a step of none", len(res.Items))
		}
		if want := h.clock.Now().Add(hookd.ReplayBackoff(1000)); !res.Replay.NextStepAt.Equal(want) {
			t.Errorf("full window: got next step %v, want %v", res.Replay.NextStepAt, want)
		}
		// One answer with 429 keeps its place in the window, a 500 frees it, a 2xx too.
		cs := h.claim(t, 2)
		if len(cs) != 2 {
			t.Fatalf("got %d claims, want the 2 new deliveries", len(cs))
		}
		h.record(t, h.result(cs[0], 429), h.result(cs[1], 500))
		h.clock.Advance(time.Second)
		if res := h.step(t, 0); len(res.Items) != 1 {
			t.Fatalf("after a 429 and a 500: got %d items, want 1", len(res.Items))
		}
		h.clock.Advance(time.Second)
		if res := h.step(t, 0); len(res.Items) != 0 {
			t.Fatalf("window full again: got %d items, want 0", len(res.Items))
		}
		// A minute later the 429 one is due again and gets a 2xx, the third one too (and the
		// originals, which are not the job's).
		h.clock.Advance(time.Minute)
		for _, c := range h.claim(t, 10) {
			h.record(t, h.result(c, 200))
		}
		h.clock.Advance(time.Second)
		if res := h.step(t, 0); len(res.Items) != 2 {
			t.Fatalf("after the answers: got %d items, want 2", len(res.Items))
		}
		if got := mustReplay(t, h, r.ID); got.Retried != 5 {
			t.Errorf("got %d retried, want 5", got.Retried)
		}
	}},
	{"ReplayIdempotencyKey", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 2)
		p := replayParams(hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusFailed})
		p.IdempotencyKey = "key-1"
		first := h.createReplay(t, p)
		h.failed(t, 1)
		again, created, err := h.s.ReplayCreate(h.ctx, p)
		if err != nil || created || again.ID != first.ID || again.Total != 2 || again.IdempotencyKey != "key-1" {
			t.Fatalf("same key: got job %+v created=%v err=%v, want job %d again with its 2 items", again, created, err, first.ID)
		}
		// Another user's key is another job; no key is a new job every time.
		other := *p
		other.CreatedBy = "dddddddd-0000-4000-8000-00000000000d"
		if r := h.createReplay(t, &other); r.ID == first.ID || r.Total != 3 {
			t.Errorf("other user, same key: got job %d with %d items, want a new job with 3", r.ID, r.Total)
		}
		p.IdempotencyKey = ""
		a, b := h.createReplay(t, p), h.createReplay(t, p)
		if a.ID == b.ID {
			t.Errorf("no key: got job %d twice, want two jobs", a.ID)
		}
		if _, total, err := h.s.ReplayList(h.ctx, hookd.ReplayFilter{}); err != nil || total != 4 {
			t.Errorf("ReplayList: got %d jobs (%v), want 4", total, err)
		}
	}},
	{"ReplayIdempotencyKeyUnderConcurrency", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 20)
		p := replayParams(hookd.DeliveryFilter{})
		p.IdempotencyKey = "racing"
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			jobs    = map[int64]bool{}
			created int
		)
		for range n {
			wg.Go(func() {
				r, c, err := h.s.ReplayCreate(h.ctx, p)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("ReplayCreate: %v", err)
					return
				}
				jobs[r.ID] = true
				if c {
					created++
				}
			})
		}
		wg.Wait()
		if len(jobs) != 1 || created != 1 {
			t.Errorf("got %d jobs, %d created, from %d requests with one key; want 1 and 1", len(jobs), created, n)
		}
		if _, total, _ := h.s.ReplayList(h.ctx, hookd.ReplayFilter{}); total != 1 {
			t.Errorf("got %d stored jobs, want 1", total)
		}
	}},
	{"ReplayExcludeRetried", func(t *testing.T, h *harness) {
		h.webhook(t)
		orig := h.failed(t, 4)
		retry := func(id int64) {
			if _, err := h.s.DeliveryRetry(h.ctx, &hookd.DeliveryRetryParams{IDs: []int64{id}, CreatedBy: "u"}); err != nil {
				t.Fatalf("DeliveryRetry: %v", err)
			}
		}
		retry(orig[0]) // before the job: skipped at creation
		pin := orig[3]
		f := hookd.DeliveryFilter{MaxID: &pin}
		p := replayParams(f)
		p.ExcludeRetried, p.Sample = true, 10
		pv, err := h.s.ReplayPreview(h.ctx, p)
		if err != nil {
			t.Fatalf("ReplayPreview: %v", err)
		}
		if pv.Total != 4 || pv.Skipped != 1 || pv.MaxID != pin {
			t.Errorf("got preview total %d skipped %d maxId %d, want 4, 1, %d", pv.Total, pv.Skipped, pv.MaxID, pin)
		}
		diff(t, "preview sample", pv.SampleIDs, orig[1:])
		r := h.createReplay(t, p)
		if countsOf(r) != (counts{Total: 4, Skipped: 1}) || r.State != hookd.ReplayStateQueued {
			t.Errorf("created: got %s %+v, want queued with 4 items, 1 skipped", r.State, countsOf(r))
		}
		retry(orig[2]) // after the job was created, before its turn: skipped when it comes
		res := h.step(t, 0)
		var states []hookd.ReplayItemState
		for _, it := range h.items(t, r.ID, "") {
			states = append(states, it.State)
		}
		diff(t, "item states", states, []hookd.ReplayItemState{hookd.ReplayItemSkipped, hookd.ReplayItemRetried, hookd.ReplayItemSkipped, hookd.ReplayItemRetried})
		if countsOf(res.Replay) != (counts{Total: 4, Retried: 2, Skipped: 2}) || res.Replay.State != hookd.ReplayStateDone {
			t.Errorf("after the step: got %s %+v, want done, 2 retried, 2 skipped", res.Replay.State, countsOf(res.Replay))
		}
		diff(t, "skipped items", itemIDs(h.items(t, r.ID, hookd.ReplayItemSkipped)), []int64{orig[0], orig[2]})
		// Without the option, everything goes again, including retries.
		r2 := h.createReplay(t, replayParams(f))
		if r2.Skipped != 0 || r2.Total != 4 {
			t.Errorf("without ExcludeRetried: got %d items, %d skipped, want 4, 0", r2.Total, r2.Skipped)
		}
	}},
	{"ReplayEverythingSkippedIsDoneAtOnce", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 1)
		none := int64(-1)
		r := h.createReplay(t, replayParams(hookd.DeliveryFilter{WebhookID: &none}))
		if r.State != hookd.ReplayStateDone || r.Total != 0 || r.FinishedOn == nil {
			t.Errorf("empty job: got %s, %d items, finished %v; want done at once", r.State, r.Total, r.FinishedOn)
		}
		if next, err := h.s.ReplayNextDue(h.ctx); err != nil || !next.IsZero() {
			t.Errorf("ReplayNextDue: got %v, %v, want zero", next, err)
		}
	}},
	{"ReplayItemFailsWhenItsDeliveryIsGoneOrHidden", func(t *testing.T, h *harness) {
		alice, bob := "aaaaaaaa-0000-4000-8000-0000000000a1", "bbbbbbbb-0000-4000-8000-0000000000b2"
		wa := h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = alice })
		wb := h.webhook(t, func(w *hookd.Webhook) { w.CreatedBy = bob })
		orig := h.failed(t, 2) // a, b, a, b
		mine := h.createReplay(t, replayParams(hookd.DeliveryFilter{CreatedBy: &alice}))
		all := h.createReplay(t, replayParams(hookd.DeliveryFilter{}))
		diff(t, "alice's items", itemIDs(h.items(t, mine.ID, "")), []int64{orig[0], orig[2]})
		if _, err := h.s.WebhookDelete(h.ctx, wb.ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		h.step(t, 0)
		h.step(t, 0)
		if got := mustReplay(t, h, all.ID); countsOf(got) != (counts{Total: 4, Retried: 2, Failed: 2}) {
			t.Errorf("job over both webhooks: got %+v, want 2 retried, 2 failed", countsOf(got))
		}
		diff(t, "failed items", itemIDs(h.items(t, all.ID, hookd.ReplayItemFailed)), []int64{orig[1], orig[3]})
		for _, it := range h.items(t, all.ID, hookd.ReplayItemFailed) {
			if it.WebhookID != 0 || it.NewDeliveryID != 0 {
				t.Errorf("failed item %+v: want no webhook (gone) and no new delivery", it)
			}
		}
		for _, it := range h.items(t, mine.ID, "") {
			if d := h.get(t, it.NewDeliveryID); d.WebhookID != wa.ID {
				t.Errorf("alice's job retried %d onto webhook %d, want %d", it.DeliveryID, d.WebhookID, wa.ID)
			}
		}
	}},
	{"ReplayCancel", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 5)
		r := h.createReplay(t, &hookd.ReplayParams{Rate: 10, Window: 100, CreatedBy: replayer})
		if res := h.step(t, 0); len(res.Items) != 1 {
			t.Fatalf("got %d items, want 1 (rate 10: one per step)", len(res.Items))
		}
		at := h.clock.Advance(time.Millisecond)
		got, err := h.s.ReplayCancel(h.ctx, r.ID)
		if err != nil {
			t.Fatalf("ReplayCancel: %v", err)
		}
		if got.State != hookd.ReplayStateCancelled || countsOf(got) != (counts{Total: 5, Retried: 1, Cancelled: 4}) ||
			got.FinishedOn == nil || !got.FinishedOn.Equal(at) || got.Pending() != 0 {
			t.Errorf("cancelled: got %s %+v finished %v, want cancelled, 1 retried, 4 cancelled at %v", got.State, countsOf(got), got.FinishedOn, at)
		}
		if n := len(h.items(t, r.ID, hookd.ReplayItemCancelled)); n != 4 {
			t.Errorf("got %d cancelled items, want 4", n)
		}
		h.clock.Advance(time.Hour)
		if res := h.step(t, 0); res.Replay != nil || !res.NextStepAt.IsZero() {
			t.Errorf("step after cancel: got %+v, want nothing", res)
		}
		again, err := h.s.ReplayCancel(h.ctx, r.ID)
		if err != nil || !again.FinishedOn.Equal(at) || again.Cancelled != 4 {
			t.Errorf("second cancel: got %+v, %v, want the job unchanged", again, err)
		}
		_, err = h.s.ReplayCancel(h.ctx, 9999)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ReplayListGetAndItemPaging", func(t *testing.T, h *harness) {
		h.webhook(t)
		orig := h.failed(t, 5)
		other := "dddddddd-0000-4000-8000-00000000000d"
		a := h.createReplay(t, replayParams(hookd.DeliveryFilter{}))
		p := replayParams(hookd.DeliveryFilter{})
		p.CreatedBy = other
		b := h.createReplay(t, p)
		c := h.createReplay(t, replayParams(hookd.DeliveryFilter{}))
		list, total, err := h.s.ReplayList(h.ctx, hookd.ReplayFilter{})
		if err != nil || total != 3 {
			t.Fatalf("ReplayList: got %d (%v), want 3", total, err)
		}
		var got []int64
		for _, r := range list {
			got = append(got, r.ID)
		}
		diff(t, "jobs newest first", got, []int64{c.ID, b.ID, a.ID})
		mine, total, err := h.s.ReplayList(h.ctx, hookd.ReplayFilter{CreatedBy: ptr(replayer), Offset: 1, Limit: 5})
		if err != nil || total != 2 || len(mine) != 1 || mine[0].ID != a.ID {
			t.Errorf("ReplayList(mine, page 2): got %d of %d (%v), want job %d of 2", len(mine), total, err, a.ID)
		}
		page, total, err := h.s.ReplayItemList(h.ctx, hookd.ReplayItemFilter{ReplayID: a.ID, Offset: 1, Limit: 2})
		if err != nil || total != 5 {
			t.Fatalf("ReplayItemList: got total %d (%v), want 5", total, err)
		}
		diff(t, "item page", itemIDs(page), orig[1:3])
		_, _, err = h.s.ReplayItemList(h.ctx, hookd.ReplayItemFilter{ReplayID: 9999})
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = h.s.ReplayGet(h.ctx, 9999)
		wantCode(t, err, hookd.ENOTFOUND)
		if _, _, err := h.s.ReplayList(h.ctx, hookd.ReplayFilter{Limit: -1}); hookd.ErrorCode(err) != hookd.EINVALID {
			t.Errorf("negative limit: got %v, want EINVALID", err)
		}
	}},
	{"ReplayRejectsBadParams", func(t *testing.T, h *harness) {
		for _, p := range []hookd.ReplayParams{
			{Rate: 0, Window: 1}, {Rate: hookd.MaxReplayRate + 1, Window: 1}, {Rate: 1, Window: 0},
			{Rate: 1, Window: 1, Sample: hookd.MaxReplaySample + 1},
		} {
			_, _, err := h.s.ReplayCreate(h.ctx, &p)
			wantCode(t, err, hookd.EINVALID)
			_, err = h.s.ReplayPreview(h.ctx, &p)
			wantCode(t, err, hookd.EINVALID)
		}
		if _, total, _ := h.s.ReplayList(h.ctx, hookd.ReplayFilter{}); total != 0 {
			t.Errorf("got %d jobs after refusals, want 0", total)
		}
	}},
}

// mustReplay reads a job and fails the test on error.
func mustReplay(t testing.TB, h *harness, id int64) *hookd.Replay {
	t.Helper()
	r, err := h.s.ReplayGet(h.ctx, id)
	if err != nil {
		t.Fatalf("ReplayGet(%d): %v", id, err)
	}
	return r
}
