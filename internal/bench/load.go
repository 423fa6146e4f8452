package bench

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/client"
)

// benchTrigger is the trigger of the events the benchmark publishes (file.created).
const benchTrigger = 1 << 7

// payloadTail makes a payload about the size of a real DocSpace file event (~230 bytes).
const payloadTail = `,"title":"Quarterly report.docx","folderId":7,"rootId":3,"version":2,` +
	`"createdBy":{"id":"0b8c9a4e-1234-4cde-8f00-aabbccddeeff","displayName":"Jane Doe"}}`

// payload returns the event payload of sequence number seq published at ts (unix ns): the
// receiver reads ts back to compute the latency.
func payload(seq, ts int64) json.RawMessage {
	b := make([]byte, 0, 64+len(payloadTail))
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, payloadTail...)
}

// loadClient returns an HTTP client that keeps one idle connection per worker, so that a
// run measures requests, not connection setup.
func loadClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// pace hands out the indexes 0..n-1 to workers, at rate per second (0 = as fast as they can).
type pace struct {
	n     int64
	rate  float64
	start time.Time
	next  atomic.Int64
}

// take returns the next index after waiting for its turn, and the time it is stamped with:
// its scheduled time when there is a rate, so that a worker held up by a slow request does
// not hide the wait from the latency (coordinated omission), and now otherwise. ok is false
// when all are taken or ctx ended.
func (p *pace) take(ctx context.Context) (i int64, ts time.Time, ok bool) {
	i = p.next.Add(1) - 1
	if i >= p.n || ctx.Err() != nil {
		return 0, time.Time{}, false
	}
	if p.rate <= 0 {
		return i, time.Now(), true
	}
	at := p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, time.Time{}, false
		}
	}
	return i, at, true
}

// PublishResult is what the publishers did.
type PublishResult struct {
	Accepted int64         `json:"accepted"` // events the server accepted (202)
	Errors   int64         `json:"errors"`   // events in requests that failed
	FirstErr string        `json:"firstError,omitempty"`
	Duration time.Duration `json:"duration"` // first request to last answer
	Rate     float64       `json:"rate"`     // accepted events per second
	Latency  Latency       `json:"latency"`  // of the publish requests (one per batch when batched)
	start    time.Time
}

// publishParams describe one publishing phase.
type publishParams struct {
	events      int
	concurrency int
	rate        float64 // events per second, 0 = as fast as possible
	seq0        int64   // sequence number of the first event
	// batch is the events one request carries (send's n); 0 means 1.
	batch int
	send  sendFunc
	// stop, when not nil, ends the phase early once closed (live traffic).
	stop <-chan struct{}
}

// sendFunc publishes, in one request, n events with sequence numbers seq0..seq0+n-1, each
// stamped ts (unix ns) in its payload.
type sendFunc func(ctx context.Context, seq0 int64, n int, ts int64) error

// singleSender publishes one event per request through cl's publish endpoint.
func singleSender(cl *client.Client, trigger client.Trigger) sendFunc {
	return func(ctx context.Context, seq0 int64, _ int, ts int64) error {
		_, err := cl.Publish(ctx, client.PublishParams{Trigger: trigger, Payload: payload(seq0, ts)})
		return err
	}
}

// publish sends p.events events with p.send from p.concurrency workers, p.batch per request.
// The rate paces requests so that events go out at p.rate; every event of a request carries
// the request's time.
func publish(ctx context.Context, p publishParams) *PublishResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.stop != nil {
		go func() {
			select {
			case <-p.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	batch := int64(max(p.batch, 1))
	events := int64(p.events)
	res := &PublishResult{start: time.Now()}
	pc := &pace{n: (events + batch - 1) / batch, rate: p.rate / float64(batch), start: res.start}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range max(p.concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i, ts, ok := pc.take(ctx)
				if !ok {
					break
				}
				first := i * batch
				n := min(batch, events-first)
				t0 := time.Now()
				err := p.send(ctx, p.seq0+first, int(n), ts.UnixNano())
				mine = append(mine, time.Since(t0))
				mu.Lock()
				if err != nil && ctx.Err() == nil {
					res.Errors += n
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else if err == nil {
					res.Accepted += n
				}
				mu.Unlock()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Duration = time.Since(res.start)
	res.Rate = rate(res.Accepted, res.Duration)
	res.Latency = NewLatency(lat)
	return res
}
