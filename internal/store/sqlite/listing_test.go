package sqlite

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMergeSpans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   [][2]int64
		most int
		want [][2]int64
	}{
		{nil, 4, nil},
		{[][2]int64{{1, 5}}, 4, [][2]int64{{1, 5}}},
		// overlapping and adjacent ranges become one
		{[][2]int64{{1, 5}, {3, 9}, {10, 12}, {20, 30}}, 4, [][2]int64{{20, 30}, {1, 12}}},
		// a range inside another
		{[][2]int64{{1, 50}, {3, 9}, {60, 70}}, 4, [][2]int64{{60, 70}, {1, 50}}},
		// too many: the smallest gaps close first (gaps 10, 2, 5 → close 2, then 5)
		{[][2]int64{{0, 10}, {20, 30}, {32, 40}, {45, 50}}, 2, [][2]int64{{20, 50}, {0, 10}}},
		// equal gaps: close only as many as needed
		{[][2]int64{{0, 1}, {3, 4}, {6, 7}, {9, 10}}, 3, [][2]int64{{9, 10}, {6, 7}, {0, 4}}},
		{[][2]int64{{0, 1}, {3, 4}, {6, 7}, {9, 10}}, 1, [][2]int64{{0, 10}}},
	} {
		t.Run(fmt.Sprint(tc.in, tc.most), func(t *testing.T) {
			got := mergeSpans(tc.in, tc.most)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("mergeSpans mismatch (-want +got):\n%s", d)
			}
		})
	}
}
