package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// baselineSecret signs the baseline's bodies, as a webhook secret signs hookd's.
const baselineSecret = "bench-secret-0123456789"

// BaselineConfig is one baseline run: what a plain Go HTTP client does with the same work.
type BaselineConfig struct {
	Targets     []string // receiver URLs, one per webhook of the hookd run
	Events      int      // events; each is posted once to every target
	Concurrency int      // requests in flight at once (one connection each)
	Rate        float64  // events per second, 0 = as fast as possible
}

// BaselineResult is what RunBaseline did.
type BaselineResult struct {
	Sent     int64         `json:"sent"` // requests answered (any status)
	Errors   int64         `json:"errors"`
	FirstErr string        `json:"firstError,omitempty"`
	Start    int64         `json:"start"` // unix ns of the first request
	Duration time.Duration `json:"duration"`
}

// RunBaseline posts, for every event, the DocSpace envelope hookd would send (built and
// signed the same way, event.id unique per request) to every target, with cfg.Concurrency
// workers, and writes a BaselineResult as JSON to out.
func RunBaseline(ctx context.Context, cfg BaselineConfig, out io.Writer) error {
	if len(cfg.Targets) == 0 || cfg.Events <= 0 {
		return fmt.Errorf("baseline: need targets and events")
	}
	k := int64(len(cfg.Targets))
	hooks := make([]*hookd.Webhook, k)
	for i, t := range cfg.Targets {
		hooks[i] = &hookd.Webhook{ID: int64(i + 1), Name: fmt.Sprint("bench-", i), URI: t, Secret: baselineSecret}
	}
	hc := loadClient(cfg.Concurrency)
	defer hc.CloseIdleConnections()
	start := time.Now()
	// One index per request, event-major: every target of event i before event i+1, as a
	// fan-out queues them. The pace is per request: rate*k requests per second.
	pc := &pace{n: int64(cfg.Events) * k, rate: cfg.Rate * float64(k), start: start}
	res := BaselineResult{Start: start.UnixNano()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(cfg.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ts, ok := pc.take(ctx)
				if !ok {
					return
				}
				err := postOne(ctx, hc, hooks[j%k], j/k, j+1, ts)
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.Sent++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return ctx.Err()
}

// postOne builds, signs and posts the envelope of event seq for webhook w, with event.id id
// and the publish time ts.
func postOne(ctx context.Context, hc *http.Client, w *hookd.Webhook, seq, id int64, ts time.Time) error {
	ev := &hookd.Event{ID: seq + 1, Trigger: benchTrigger, Payload: payload(seq, ts.UnixNano()), CreatedOn: ts}
	body, err := hookd.BuildBody(ev, w, id, nil)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URI, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", "hookd-bench-baseline")
	req.Header.Set(hookd.SignatureHeader, hookd.Sign(w.Secret, body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return err
}
