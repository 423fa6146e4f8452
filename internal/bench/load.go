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
	Errors   int64         `json:"errors"`
	FirstErr string        `json:"firstError,omitempty"`
	Duration time.Duration `json:"duration"` // first request to last answer
	Rate     float64       `json:"rate"`     // accepted events per second
	Latency  Latency       `json:"latency"`  // of the publish requests
	start    time.Time
}

// publishParams describe one publishing phase.
type publishParams struct {
	events      int
	concurrency int
	rate        float64 // events per second, 0 = as fast as possible
	seq0        int64   // sequence number of the first event
	trigger     client.Trigger
	// stop, when not nil, ends the phase early once closed (live traffic).
	stop <-chan struct{}
}

// publish sends p.events events through cl's publish endpoint with p.concurrency workers.
func publish(ctx context.Context, cl *client.Client, p publishParams) *PublishResult {
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
	res := &PublishResult{start: time.Now()}
	pc := &pace{n: int64(p.events), rate: p.rate, start: res.start}
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
				t0 := time.Now()
				_, err := cl.Publish(ctx, client.PublishParams{Trigger: p.trigger, Payload: payload(p.seq0+i, ts.UnixNano())})
				mine = append(mine, time.Since(t0))
				mu.Lock()
				if err != nil && ctx.Err() == nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else if err == nil {
					res.Accepted++
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
