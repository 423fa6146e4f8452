package hookd

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRetrySchedule is the wait before each automatic retry, close to Svix's: the first
// attempt goes out at once, then retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h,
// eight attempts in all over about a day and a half.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// RetryDelay returns the deterministic wait after the n-th failed attempt (n starts at 1), and
// false when the schedule is exhausted.
func RetryDelay(schedule []time.Duration, n int) (time.Duration, bool) {
	if n < 1 || n > len(schedule) {
		return 0, false
	}
	return schedule[n-1], true
}

// Jitter spreads d by up to ±10 % so that deliveries that failed together do not retry in
// lockstep. r is a float in [0, 1), e.g. rand.Float64().
func Jitter(d time.Duration, r float64) time.Duration {
	return d + time.Duration((r*0.2-0.1)*float64(d))
}

// Classify decides what a finished attempt means: status is the HTTP status (0 when no answer
// came) and n the attempt's number. It is the one place that says delivered, retry or give up.
// The delay it returns is the schedule's; callers add Jitter.
func Classify(schedule []time.Duration, n, status int) (Outcome, time.Duration) {
	switch {
	case status >= 200 && status < 300:
		return OutcomeDelivered, 0
	case status == 410:
		return OutcomeFailed, 0 // the receiver says the endpoint is gone: retrying is pointless
	}
	d, ok := RetryDelay(schedule, n)
	if !ok {
		return OutcomeFailed, 0
	}
	return OutcomeRetry, d
}

// MaxRetryAfter caps how long a receiver's Retry-After may push a retry out.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads the Retry-After header of an answer (seconds, or an HTTP date relative to
// now) and returns the wait it asks for, capped at MaxRetryAfter, and whether there was one.
func RetryAfter(header map[string][]string, now time.Time) (time.Duration, bool) {
	var v string
	for k, vs := range header {
		if len(vs) > 0 && strings.EqualFold(k, "Retry-After") {
			v = strings.TrimSpace(vs[0])
		}
	}
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}
