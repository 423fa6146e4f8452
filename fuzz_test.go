package hookd_test

import (
	"strconv"
	"testing"

	"github.com/hookd/hookd"
)

// Fuzz targets of the domain parsers that read user input. Without -fuzz, `go test` runs
// them over their seeds; for a longer run: go test -fuzz=FuzzParseTrigger -fuzztime=60s .

func FuzzParseTrigger(f *testing.F) {
	for _, s := range []string{"file.created", "FILE.CREATED", "FileCreated", "file_created", "file-created",
		"128", "0", "*", "all", "384", "-1", "34359738368", "9223372036854775807", "9223372036854775808",
		" 128 ", "", ".", "file..created", "\x00", "ﬁle.created"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := hookd.ParseTrigger(s)
		if err != nil {
			if hookd.ErrorCode(err) != hookd.EINVALID || hookd.ErrorMessage(err) == "" {
				t.Fatalf("ParseTrigger(%q): got error %v, want an EINVALID error with a message", s, err)
			}
			return
		}
		if tr != hookd.TriggerAll && !tr.Single() {
			t.Fatalf("ParseTrigger(%q): got %d, want one defined trigger or *", s, tr)
		}
		name := tr.Name()
		if back, err := hookd.ParseTrigger(name); err != nil || back != tr {
			t.Fatalf("ParseTrigger(%q) = %d named %q, which parses to %d, %v", s, tr, name, back, err)
		}
		if back, err := hookd.ParseTrigger(strconv.FormatInt(int64(tr), 10)); err != nil || back != tr {
			t.Fatalf("ParseTrigger(%q) = %d, whose number parses to %d, %v", s, tr, back, err)
		}
	})
}

func FuzzTriggerMask(f *testing.F) {
	for _, m := range []int64{0, 1, 128, 384, 1 << 35, 1<<36 - 1, 1 << 36, -1, 1 << 62, -1 << 63} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m int64) {
		mask := hookd.Trigger(m)
		names := mask.Names()
		var back hookd.Trigger
		for _, n := range names {
			tr, err := hookd.ParseTrigger(n)
			if err != nil {
				t.Fatalf("mask %d: name %q does not parse: %v", m, n, err)
			}
			back |= tr
		}
		if mask.ValidMask() != (back == mask) {
			t.Fatalf("mask %d: ValidMask %v, but its names %v make %d", m, mask.ValidMask(), names, back)
		}
		if mask.ValidMask() && mask.UserUnavailable()&^mask != 0 {
			t.Fatalf("mask %d: UserUnavailable %d has bits outside the mask", m, mask.UserUnavailable())
		}
		for _, info := range hookd.Triggers {
			if info.Value != 0 && mask.ValidMask() && mask.Matches(info.Value) != (mask == 0 || mask&info.Value != 0) {
				t.Fatalf("mask %d: Matches(%s) = %v", m, info.Name, mask.Matches(info.Value))
			}
		}
	})
}

func FuzzParseGroupStatus(f *testing.F) {
	for _, s := range []string{"", "0", "1", "6", "31", "32", "-1", "NotSent", "notsent,Status5xx", "Failed",
		"failed,2xx", "Not sent", "Status2xx, Status4xx", ",", "65536", " 2 ", "none"} {
		f.Add(s, 0, 0)
	}
	f.Fuzz(func(t *testing.T, s string, status, attempts int) {
		g, err := hookd.ParseGroupStatus(s)
		if err != nil {
			if hookd.ErrorCode(err) != hookd.EINVALID || hookd.ErrorMessage(err) == "" {
				t.Fatalf("ParseGroupStatus(%q): got error %v, want an EINVALID error with a message", s, err)
			}
			return
		}
		const known = hookd.GroupStatusNotSent | hookd.GroupStatus2xx | hookd.GroupStatus3xx |
			hookd.GroupStatus4xx | hookd.GroupStatus5xx | hookd.GroupStatusFailed
		if g < 0 || g&^known != 0 {
			t.Fatalf("ParseGroupStatus(%q): got %d, with bits outside the defined ones", s, g)
		}
		if g&hookd.GroupStatusFailed == 0 {
			if back, err := hookd.ParseGroupStatus(strconv.Itoa(int(g))); err != nil || back != g {
				t.Fatalf("ParseGroupStatus(%q) = %d, whose number parses to %d, %v", s, g, back, err)
			}
		}
		in := g.Includes(status, attempts)
		if g == 0 && !in {
			t.Fatalf("group 0 excludes status %d after %d attempts, want every row", status, attempts)
		}
		if status >= 200 && status < 300 && g == hookd.GroupStatusFailed && in {
			t.Fatalf("Failed includes a %d", status)
		}
	})
}
