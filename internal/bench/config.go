package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hookd/hookd"
)

// Config is one end-to-end run of `hookd bench`. The zero value of a field means its default,
// as each comment says.
type Config struct {
	// DB is the server's database URL. Default a fresh SQLite file in TempDir. A PostgreSQL
	// database must hold no webhooks but the benchmark's own (named bench-*), which each run
	// deletes first.
	DB string
	// Events is how many events are published (or, with Backlog, generated). Default 10,000.
	Events int
	// Concurrency is the number of publishers, the server's delivery concurrency and the
	// baseline's number of connections. Default 32.
	Concurrency int
	// Rate is the target publish rate in events per second. Zero publishes as fast as the
	// publishers can.
	Rate float64
	// Webhooks is the fan-out: every event goes to this many webhooks. Default 1.
	Webhooks int
	// FailShare is the share of the webhooks whose receiver answers 500 (rounded to the
	// nearest whole webhook). Default none.
	FailShare float64
	// SlowHooks is how many webhooks answer only after Slow. Default none.
	SlowHooks int
	// Slow is the answer delay of the slow webhooks. Default 200 ms.
	Slow time.Duration
	// StruggleHooks is how many webhooks struggle: their receiver answers 503 whenever more
	// than StruggleCap requests to that webhook are in flight at once, and 200 after a short
	// delay otherwise (receiver.go). Default none.
	StruggleHooks int
	// StruggleCap is the in-flight requests a struggling receiver takes at once. Default 4.
	StruggleCap int
	// Batch publishes the events in requests of Batch events to the batch publish endpoint.
	// Default 0: one request per event to the single publish endpoint.
	Batch int
	// Backlog generates the events and their deliveries directly in the store before the
	// server starts, then times how fast the server drains them. Default off: events are
	// published through the API while the server runs.
	Backlog bool
	// NoBaseline skips the baseline run.
	NoBaseline bool
	// RetrySchedule is passed to `hookd serve --retry-schedule` when set, e.g. "1s,2s,5s" to
	// keep failing receivers busy with retries during a run. Default the server's.
	RetrySchedule string
	// Timeout bounds each wait for deliveries. Default 10 minutes.
	Timeout time.Duration
	// TempDir holds the default SQLite database. Default a new directory under os.TempDir,
	// removed afterwards.
	TempDir string
	// Exec says how to start the hookd binary. Default this process's own binary.
	Exec Exec
	// Progress receives one line per step; nil says nothing.
	Progress io.Writer
}

// Default returns c with every zero field set to its default.
func (c Config) Default() Config {
	if c.Events == 0 {
		c.Events = 10_000
	}
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if c.Webhooks == 0 {
		c.Webhooks = 1
	}
	if c.Slow == 0 {
		c.Slow = 200 * time.Millisecond
	}
	if c.StruggleCap == 0 {
		c.StruggleCap = 4
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	switch {
	case c.Events < 1:
		return fmt.Errorf("events must be at least 1, got %d", c.Events)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	case c.Rate < 0:
		return fmt.Errorf("rate must not be negative, got %g", c.Rate)
	case c.Webhooks < 1:
		return fmt.Errorf("webhooks must be at least 1, got %d", c.Webhooks)
	case c.FailShare < 0 || c.FailShare > 1:
		return fmt.Errorf("fail share must be between 0 and 1, got %g", c.FailShare)
	case c.SlowHooks < 0:
		return fmt.Errorf("slow webhooks must not be negative, got %d", c.SlowHooks)
	case c.StruggleHooks < 0:
		return fmt.Errorf("struggling webhooks must not be negative, got %d", c.StruggleHooks)
	case c.StruggleCap < 1:
		return fmt.Errorf("struggle cap must be at least 1, got %d", c.StruggleCap)
	case c.failHooks()+c.SlowHooks+c.StruggleHooks > c.Webhooks:
		return fmt.Errorf("%d failing, %d slow and %d struggling webhooks do not fit in %d webhooks",
			c.failHooks(), c.SlowHooks, c.StruggleHooks, c.Webhooks)
	case c.Batch < 0 || c.Batch > hookd.MaxPublishBatch:
		return fmt.Errorf("batch must be between 0 and %d, got %d", hookd.MaxPublishBatch, c.Batch)
	case c.Backlog && c.Rate > 0:
		return errors.New("a backlog is generated, not published: rate does not apply")
	case c.Backlog && c.Batch > 0:
		return errors.New("a backlog is generated, not published: batch does not apply")
	}
	return nil
}

// failHooks is the number of failing webhooks.
func (c Config) failHooks() int { return int(c.FailShare*float64(c.Webhooks) + 0.5) }

// classes returns the receiver class of each webhook: failing first, then slow, then
// struggling, then healthy.
func (c Config) classes() []string {
	out := make([]string, c.Webhooks)
	for i := range out {
		switch {
		case i < c.failHooks():
			out[i] = ClassFail
		case i < c.failHooks()+c.SlowHooks:
			out[i] = ClassSlow
		case i < c.failHooks()+c.SlowHooks+c.StruggleHooks:
			out[i] = ClassStruggle
		default:
			out[i] = ClassOK
		}
	}
	return out
}
