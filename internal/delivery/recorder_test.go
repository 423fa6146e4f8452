package delivery

import (
	"testing"
	"time"
)

func TestLinger(t *testing.T) {
	t.Parallel()
	w := &Worker{}
	first := []done{{}}

	t.Run("TakesWhatArrivesUpToTheBound", func(t *testing.T) {
		t.Parallel()
		sent := lingerBelow + 14
		in := make(chan done, sent)
		for range sent {
			in <- done{}
		}
		batch, closed := w.linger(in, first)
		if len(batch) != lingerBelow || closed {
			t.Errorf("got a batch of %d, closed %v, want %d and open", len(batch), closed, lingerBelow)
		}
		if len(in) != sent-(lingerBelow-1) {
			t.Errorf("got %d results left in the channel, want %d", len(in), sent-(lingerBelow-1))
		}
	})
	t.Run("WaitsForLateResults", func(t *testing.T) {
		t.Parallel()
		in := make(chan done)
		go func() { in <- done{} }()
		batch, _ := w.linger(in, first)
		if len(batch) != 2 {
			t.Errorf("got a batch of %d, want 2: the result sent while lingering", len(batch))
		}
	})
	t.Run("StopsAtTheDeadline", func(t *testing.T) {
		t.Parallel()
		in := make(chan done)
		start := time.Now()
		batch, closed := w.linger(in, first)
		if len(batch) != 1 || closed {
			t.Errorf("got a batch of %d, closed %v, want 1 and open", len(batch), closed)
		}
		if took := time.Since(start); took < recordLinger {
			t.Errorf("returned after %s, want at least %s", took, recordLinger)
		}
	})
	t.Run("ReportsClose", func(t *testing.T) {
		t.Parallel()
		in := make(chan done, 1)
		in <- done{}
		close(in)
		batch, closed := w.linger(in, first)
		if len(batch) != 2 || !closed {
			t.Errorf("got a batch of %d, closed %v, want 2 and closed", len(batch), closed)
		}
	})
}
