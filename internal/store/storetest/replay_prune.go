package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var replayPruneTests = []test{
	{"ReplayPruneDeletesFinishedJobsPastRetention", func(t *testing.T, h *harness) {
		h.webhook(t)
		h.failed(t, 5)
		failed := hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusFailed}
		old := h.createReplay(t, replayParams(failed))
		if _, err := h.s.ReplayCancel(h.ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Hour)
		running := h.createReplay(t, replayParams(failed)) // queued: kept whatever its age
		h.clock.Advance(time.Hour)
		recent := h.createReplay(t, replayParams(failed))
		if _, err := h.s.ReplayCancel(h.ctx, recent.ID); err != nil {
			t.Fatal(err)
		}
		before := h.clock.Now().Add(-30 * time.Minute) // after old finished, before recent did

		// Two items at a time: the old job's five items go in three calls, the job with the last.
		var got []int
		for range 4 {
			n, err := h.s.ReplayPrune(h.ctx, before, 2)
			if err != nil {
				t.Fatalf("ReplayPrune: %v", err)
			}
			got = append(got, n)
		}
		diff(t, "rows deleted per call (items, then the job with the last item)", got, []int{2, 2, 2, 0})
		if _, err := h.s.ReplayGet(h.ctx, old.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("old finished job: got %v, want ENOTFOUND", err)
		}
		for _, r := range []*hookd.Replay{running, recent} {
			if _, err := h.s.ReplayGet(h.ctx, r.ID); err != nil {
				t.Errorf("job %d: got %v, want it kept", r.ID, err)
			}
			if its := h.items(t, r.ID, ""); len(its) != 5 {
				t.Errorf("job %d: got %d items, want its 5 kept", r.ID, len(its))
			}
		}
		if n, err := h.s.ReplayPrune(h.ctx, before, 0); n != 0 || err != nil {
			t.Errorf("ReplayPrune with limit 0: got %d, %v, want 0 and no error", n, err)
		}
	}},
}
