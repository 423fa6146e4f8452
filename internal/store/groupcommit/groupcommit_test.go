package groupcommit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// fakeFlush records the batches a committer flushes; a batch blocks until released when gate
// is set, and one holding an event created by "bad" fails.
type fakeFlush struct {
	mu      sync.Mutex
	batches [][]string
	gate    chan struct{}
	started chan struct{}
}

func (f *fakeFlush) flush(ctx context.Context, ps []*hookd.EventPublishParams) ([]*hookd.Published, error) {
	var names []string
	for _, p := range ps {
		names = append(names, p.CreatedBy)
	}
	f.mu.Lock()
	f.batches = append(f.batches, names)
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	if slices.Contains(names, "bad") {
		return nil, errors.New("refused")
	}
	out := make([]*hookd.Published, len(ps))
	for i, p := range ps {
		out[i] = &hookd.Published{Event: &hookd.Event{CreatedBy: p.CreatedBy}}
	}
	return out, nil
}

func (f *fakeFlush) seen() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

// queued waits until n calls wait in c's queue.
func queued(t *testing.T, c *Committer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.queue)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d queued calls, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // polling for goroutines to reach the queue
	}
}

// idle checks that c has no lead out and nothing queued.
func idle(t *testing.T, c *Committer) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leads != 0 || len(c.queue) != 0 {
		t.Errorf("got %d leads and %d queued at rest, want none", c.leads, len(c.queue))
	}
}

type outcome struct {
	name string
	err  error
}

// publishAsync publishes an event created by name and reports the outcome on out.
func publishAsync(ctx context.Context, c *Committer, name string, out chan<- outcome) {
	go func() {
		pub, err := c.Publish(ctx, &hookd.EventPublishParams{CreatedBy: name})
		if err == nil && pub.Event.CreatedBy != name {
			err = errors.New("got " + pub.Event.CreatedBy + "'s result")
		}
		out <- outcome{name, err}
	}()
}

func TestCommitterLoneCallGoesAtOnce(t *testing.T) {
	t.Parallel()
	f := &fakeFlush{}
	c := New(2, hookd.MaxPublishBatch, f.flush)
	for _, name := range []string{"a", "b"} {
		pub, err := c.Publish(context.Background(), &hookd.EventPublishParams{CreatedBy: name})
		if err != nil || pub.Event.CreatedBy != name {
			t.Fatalf("got %v, %v, want %s's event", pub, err, name)
		}
	}
	if got := f.seen(); !slices.EqualFunc(got, [][]string{{"a"}, {"b"}}, slices.Equal) {
		t.Errorf("got batches %v, want each call alone", got)
	}
	idle(t, c)
}

func TestCommitterGroupsWaitingCalls(t *testing.T) {
	t.Parallel()
	f := &fakeFlush{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	c := New(1, hookd.MaxPublishBatch, f.flush)
	out := make(chan outcome, 10)
	publishAsync(context.Background(), c, "first", out)
	<-f.started // the first flush runs, alone
	names := []string{"w1", "w2", "bad", "w3"}
	for i, name := range names {
		publishAsync(context.Background(), c, name, out)
		queued(t, c, i+1)
	}
	// A waiting call gives up: it leaves the queue and is never published.
	ctx, cancel := context.WithCancel(context.Background())
	publishAsync(ctx, c, "gone", out)
	queued(t, c, 5)
	cancel()
	if o := <-out; o.name != "gone" || !errors.Is(o.err, context.Canceled) {
		t.Fatalf("got %v, want the cancelled call back first", o)
	}
	close(f.gate) // every flush may finish now
	got := map[string]error{}
	for range 5 {
		o := <-out
		got[o.name] = o.err
	}
	for _, name := range []string{"first", "w1", "w2", "w3"} {
		if err, ok := got[name]; !ok || err != nil {
			t.Errorf("%s: got %v (returned %v), want its event", name, err, ok)
		}
	}
	if got["bad"] == nil {
		t.Errorf("bad: got no error, want its own failure")
	}
	// The four waiting calls went together; that failed on "bad", so each went alone.
	want := [][]string{{"first"}, names, {"w1"}, {"w2"}, {"bad"}, {"w3"}}
	if got := f.seen(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got batches %v, want %v", got, want)
	}
	idle(t, c)
}

func TestCommitterUnderLoad(t *testing.T) {
	t.Parallel()
	f := &fakeFlush{}
	c := New(2, hookd.MaxPublishBatch, f.flush)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			callCtx := context.Background()
			if i%10 == 0 {
				callCtx = ctx // some give up half-way
			}
			name := string(rune('a' + i%26))
			pub, err := c.Publish(callCtx, &hookd.EventPublishParams{CreatedBy: name})
			if err == nil && pub.Event.CreatedBy != name {
				t.Errorf("got %s's event, want %s's", pub.Event.CreatedBy, name)
			} else if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("got %v", err)
			}
		}()
		if i == 200 {
			cancel()
		}
	}
	wg.Wait()
	idle(t, c)
}
