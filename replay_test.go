package hookd_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestReplayOutcomes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	o := hookd.ReplayOutcomes(7, []int64{10, 11, 12, 13}, []int64{11}, map[int64]int64{10: 100, 11: 101, 13: 103}, now)
	want := []struct {
		id    int64
		state hookd.ReplayItemState
		newID int64
	}{{10, hookd.ReplayItemRetried, 100}, {11, hookd.ReplayItemSkipped, 0}, {12, hookd.ReplayItemFailed, 0}, {13, hookd.ReplayItemRetried, 103}}
	if len(o.Items) != len(want) {
		t.Fatalf("got %d items, want %d", len(o.Items), len(want))
	}
	for i, w := range want {
		it := o.Items[i]
		if it.ReplayID != 7 || it.DeliveryID != w.id || it.State != w.state || it.NewDeliveryID != w.newID ||
			it.ProcessedOn == nil || !it.ProcessedOn.Equal(now) {
			t.Errorf("item %d: got %+v, want delivery %d %s new %d processed at %v", i, it, w.id, w.state, w.newID, now)
		}
	}
	if o.Retried != 2 || o.Skipped != 1 || o.Failed != 1 {
		t.Errorf("got %d retried, %d skipped, %d failed; want 2, 1, 1", o.Retried, o.Skipped, o.Failed)
	}
}
