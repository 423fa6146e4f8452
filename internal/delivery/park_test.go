package delivery

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestParkingTake(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	claim := func(id, hook, token int64) *hookd.Claim {
		return &hookd.Claim{Delivery: &hookd.Delivery{ID: id, WebhookID: hook}, Token: token}
	}
	p := newParking()
	p.add(claim(1, 7, 1), now.Add(-2*time.Minute), time.Minute, time.Second) // lease over
	p.add(claim(2, 7, 1), now, time.Minute, time.Second)
	p.add(claim(3, 7, 1), now, time.Minute, time.Second)
	p.add(claim(4, 7, 1), now, time.Minute, time.Second)
	p.add(claim(5, 8, 1), now, time.Minute, time.Second)
	p.claimed(claim(2, 7, 2)) // claimed again: its parked claim is superseded

	ids := func(cs []*hookd.Claim) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.Delivery.ID)
		}
		slices.Sort(out)
		return out
	}
	got := ids(p.take(now, func(hook int64) int { return map[int64]int{7: 1}[hook] }))
	if want := []int64{1, 3}; !slices.Equal(got, want) {
		t.Errorf("got %v, want the ended lease (1) and one more of webhook 7 (3, as 2 was superseded)", got)
	}
	if got := ids(p.take(now, func(int64) int { return 0 })); len(got) != 0 {
		t.Errorf("got %v with no room, want none", got)
	}
	if got, want := ids(p.take(now.Add(2*time.Minute), func(int64) int { return 0 })), []int64{4, 5}; !slices.Equal(got, want) {
		t.Errorf("got %v once every lease ended, want %v", got, want)
	}
	if len(p.byHook) != 0 || len(p.tokens) != 0 {
		t.Errorf("got %d webhooks and %d tokens left, want none", len(p.byHook), len(p.tokens))
	}
	if wait, ok := p.nextReclaim(now); !ok || wait <= 0 || wait > time.Minute+time.Second {
		t.Errorf("got next reclaim in %s (%v), want within the lease", wait, ok)
	}
}
