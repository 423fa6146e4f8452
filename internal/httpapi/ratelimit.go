package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// RateLimit is a number of requests allowed in a sliding window of time. The zero value
// allows everything.
type RateLimit struct {
	Requests int           // requests allowed in any Window; 0 means no limit
	Window   time.Duration // length of the sliding window
}

// DocSpaceRetryLimit is DocSpace's sensitive_api policy on manual retries (spec §1.7): 5
// requests per 15 minutes per user and path.
var DocSpaceRetryLimit = RateLimit{Requests: 5, Window: 15 * time.Minute}

// Enabled reports whether l limits anything.
func (l RateLimit) Enabled() bool { return l.Requests > 0 && l.Window > 0 }

// String writes l as ParseRateLimit reads it: "5/15m0s", or "off".
func (l RateLimit) String() string {
	if !l.Enabled() {
		return "off"
	}
	return strconv.Itoa(l.Requests) + "/" + l.Window.String()
}

// ParseRateLimit reads a rate limit written as REQUESTS/WINDOW ("5/15m", "100/1m"), or
// "off", "0" or "" for none (the HOOKD_RETRY_RATE_LIMIT setting).
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "0", "off", "none":
		return RateLimit{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	requests, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || requests < 1 {
		return RateLimit{}, fmt.Errorf("rate limit %q: want REQUESTS/WINDOW such as 5/15m, or off", s)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || window <= 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: the window must be a positive duration such as 15m", s)
	}
	return RateLimit{Requests: requests, Window: window}, nil
}

// limiter keeps, per key, the times of the requests it let through within the window: a
// sliding log, in this process's memory. Keys idle for a whole window are dropped.
type limiter struct {
	limit RateLimit
	clock hookd.Clock

	mu    sync.Mutex
	hits  map[string][]time.Time // oldest first, at most limit.Requests each
	swept time.Time
}

func newLimiter(limit RateLimit, clock hookd.Clock) *limiter {
	return &limiter{limit: limit, clock: clock, hits: map[string][]time.Time{}}
}

// allow counts a request for key unless the window is full. It returns whether the request
// may go on, how many more the window allows, and when the oldest request counted leaves it.
func (l *limiter) allow(key string) (ok bool, remaining int, reset time.Time) {
	now := l.clock.Now()
	from := now.Add(-l.limit.Window)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.limit.Window {
		for k, ts := range l.hits {
			if !ts[len(ts)-1].After(from) {
				delete(l.hits, k)
			}
		}
		l.swept = now
	}
	ts := l.hits[key]
	for len(ts) > 0 && !ts[0].After(from) {
		ts = ts[1:]
	}
	if len(ts) >= l.limit.Requests {
		l.hits[key] = ts
		return false, 0, ts[0].Add(l.limit.Window)
	}
	ts = append(ts, now)
	l.hits[key] = ts
	return true, l.limit.Requests - len(ts), ts[0].Add(l.limit.Window)
}

// rateLimited applies the retry rate limit to h, per user and request path (DocSpace's
// sensitive_api keys on the user and the path, so that the single retry route is limited per
// delivery id). Answers carry X-RateLimit-Limit, -Remaining and -Reset (Unix seconds); a
// refusal is a 429 with Retry-After in the error shape. It runs after auth.
func (a *API) rateLimited(h handlerFunc) handlerFunc {
	if a.retryLimiter == nil {
		return h
	}
	l := a.retryLimiter
	return func(w http.ResponseWriter, r *http.Request) error {
		ok, remaining, reset := l.allow(caller(r.Context()).UserID + " " + r.URL.Path)
		hd := w.Header()
		hd.Set("X-RateLimit-Limit", strconv.Itoa(l.limit.Requests))
		hd.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		hd.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
		if !ok {
			wait := reset.Sub(l.clock.Now())
			return withRetryAfter(hookd.Errorf(hookd.ERATELIMITED,
				"Too many retries: at most %d per %s for this delivery or batch route; try again in %s.",
				l.limit.Requests, l.limit.Window, ceilSeconds(wait)*time.Second), wait)
		}
		return h(w, r)
	}
}

// ceilUnix returns t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ceilSeconds returns d in whole seconds, rounded up, at least 1.
func ceilSeconds(d time.Duration) time.Duration {
	return max((d+time.Second-1)/time.Second, 1)
}

// headerError is an error whose answer carries extra headers (Retry-After).
type headerError struct {
	err    error
	header http.Header
}

func (e *headerError) Error() string { return e.err.Error() }
func (e *headerError) Unwrap() error { return e.err }

// withRetryAfter attaches a Retry-After header of wait, in whole seconds rounded up, to err.
func withRetryAfter(err error, wait time.Duration) error {
	return &headerError{err: err, header: http.Header{
		"Retry-After": {strconv.FormatInt(int64(ceilSeconds(wait)), 10)},
	}}
}
