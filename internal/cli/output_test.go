package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/client"
)

func TestLogFlagsFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		flags   logFlags
		want    client.DeliveryFilter
		wantErr string
	}{
		{"Since", logFlags{since: 2 * time.Hour, count: 100},
			client.DeliveryFilter{DeliveryFrom: now.Add(-2 * time.Hour), Count: 100}, ""},
		{"Statuses", logFlags{statuses: []string{"failed", "2xx,not-sent"}, count: 100},
			client.DeliveryFilter{GroupStatus: client.GroupStatusFailed | client.GroupStatus2xx | client.GroupStatusNotSent, Count: 100}, ""},
		{"FromRFC3339", logFlags{from: "2026-06-30T10:00:00Z", count: 5},
			client.DeliveryFilter{DeliveryFrom: time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC), Count: 5}, ""},
		{"Trigger", logFlags{trigger: "agent.created", count: 100},
			client.DeliveryFilter{Trigger: client.TriggerAgentCreated, Count: 100}, ""},
		{"SinceAndFrom", logFlags{since: time.Hour, from: "2026-06-30", count: 100}, client.DeliveryFilter{}, "not both"},
		{"BadFrom", logFlags{from: "yesterday", count: 100}, client.DeliveryFilter{}, `--from "yesterday"`},
		{"MaskTrigger", logFlags{trigger: "384", count: 100}, client.DeliveryFilter{}, "give one trigger"},
		{"CountTooBig", logFlags{count: 101}, client.DeliveryFilter{}, "--count 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.flags.filter(now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("filter: %v", err)
			}
			if !got.DeliveryFrom.Equal(tt.want.DeliveryFrom) {
				t.Errorf("got deliveryFrom %v, want %v", got.DeliveryFrom, tt.want.DeliveryFrom)
			}
			got.DeliveryFrom, tt.want.DeliveryFrom = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseWhenLocalTime(t *testing.T) {
	t.Parallel()
	got, err := parseWhen("2026-06-30 10:15", "--from")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 6, 30, 10, 15, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("got %v, want %v (local time)", got, want)
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&buf, "retrying", 10)
	p.set(5)
	p.done()
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q to a non-terminal, want nothing", buf.String())
	}
	p.on = true // as on a terminal
	p.set(5)
	p.done()
	if got := buf.String(); !strings.Contains(got, "\rretrying [###############---------------] 5/10") || !strings.HasSuffix(got, "\n") {
		t.Errorf("got %q, want a half-full bar ended by a newline", got)
	}
}

func TestJoinIDs(t *testing.T) {
	t.Parallel()
	ids := make([]int64, 25)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	if got := joinIDs(ids[:3]); got != "1, 2, 3" {
		t.Errorf("got %q, want 1, 2, 3", got)
	}
	if got := joinIDs(ids); !strings.HasSuffix(got, "20 and 5 more") {
		t.Errorf("got %q, want the first 20 and a count", got)
	}
}
