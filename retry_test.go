package hookd_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		header map[string][]string
		want   time.Duration
		ok     bool
	}{
		{"Seconds", map[string][]string{"Retry-After": {"120"}}, 2 * time.Minute, true},
		{"LowerCaseName", map[string][]string{"retry-after": {"5"}}, 5 * time.Second, true},
		{"HTTPDate", map[string][]string{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{"PastDate", map[string][]string{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"Capped", map[string][]string{"Retry-After": {"999999999"}}, hookd.MaxRetryAfter, true},
		{"Missing", map[string][]string{"Content-Type": {"text/plain"}}, 0, false},
		{"Garbage", map[string][]string{"Retry-After": {"soon"}}, 0, false},
		{"Negative", map[string][]string{"Retry-After": {"-3"}}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := hookd.RetryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("RetryAfter(%v): got %s, %v; want %s, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}
