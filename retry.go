package hookd

import "time"

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
