package hookd_test

import (
	"slices"
	"testing"

	"github.com/hookd/hookd"
)

// TestGroupStatusClasses: the stores count deliveries by status class and answer a listing's
// total from the classes Classes names, so every status of a class must be selected or not as
// a whole. statusClass is the class as the stores' SQL computes it (006_listing.sql).
func TestGroupStatusClasses(t *testing.T) {
	t.Parallel()
	statusClass := func(status, attempts int) int {
		c := 2
		switch {
		case status == 0:
			c = 0
		case status >= 200 && status < 300:
			c = 4
		case status >= 300 && status < 400:
			c = 6
		case status >= 400 && status < 500:
			c = 8
		case status >= 500:
			c = 10
		}
		if attempts > 0 {
			c++
		}
		return c
	}
	statuses := []int{0, 1, 101, 199, 200, 204, 299, 300, 308, 399, 400, 410, 429, 499, 500, 503, 599, 999}
	groups := []hookd.GroupStatus{0, hookd.GroupStatusNotSent, hookd.GroupStatusFailed, hookd.GroupStatus2xx, hookd.GroupStatus3xx,
		hookd.GroupStatus4xx, hookd.GroupStatus5xx, hookd.GroupStatus4xx | hookd.GroupStatus5xx,
		hookd.GroupStatusFailed | hookd.GroupStatus2xx, hookd.GroupStatusNotSent | hookd.GroupStatusFailed}
	for _, g := range groups {
		classes := g.Classes()
		for _, s := range statuses {
			for _, a := range []int{0, 1, 3} {
				if got, want := slices.Contains(classes, statusClass(s, a)), g.Includes(s, a); got != want {
					t.Errorf("GroupStatus %d, status %d, attempts %d: class %d in Classes() = %v, Includes = %v",
						g, s, a, statusClass(s, a), got, want)
				}
			}
		}
	}
}
