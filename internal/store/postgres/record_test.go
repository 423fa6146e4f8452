package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/store/postgres/pgtest"
)

// TestAttemptNumbersCountStaleAttempts checks the numbering of set-based AttemptRecord, which
// never reads max(number): a stale claim's attempt, recorded in a batch of its own, still
// takes a number, and the next attempt comes after it.
func TestAttemptNumbersCountStaleAttempts(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := pgtest.OpenTest(t, clk)
	ctx := context.Background()
	mustWebhook(t, s, "a")
	mustPublish(t, s, `{}`)
	first := claimAll(t, s)[0]
	clk.Add(time.Minute + time.Microsecond)
	second := claimAll(t, s)[0] // the first lease ran out
	fail(t, s, clk.Now(), second)
	fail(t, s, clk.Now(), first) // late and stale: history only
	third := claimAll(t, s)[0]
	deliver(t, s, third)
	d, err := s.DeliveryGet(ctx, third.Delivery.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != hookd.DeliveryStateDelivered || d.Attempts != 2 || d.LastAttempt.Number != 3 || d.LastAttempt.Status != 200 {
		t.Errorf("got %s after %d attempts, last #%d status %d, want delivered after 2, last #3 200",
			d.State, d.Attempts, d.LastAttempt.Number, d.LastAttempt.Status)
	}
	as, err := s.AttemptList(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int
	for _, a := range as {
		numbers = append(numbers, a.Number)
	}
	if !slices.Equal(numbers, []int{1, 2, 3}) {
		t.Errorf("got attempt numbers %v, want [1 2 3]", numbers)
	}
}
