package webui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hookd/hookd"
)

func TestParseHistoryFilter(t *testing.T) {
	t.Parallel()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	ptr := func(n int64) *int64 { return &n }
	admin := &hookd.Key{Role: hookd.RoleAdmin, UserID: "admin-user"}
	for _, tc := range []struct {
		name    string
		query   string
		want    hookd.DeliveryFilter
		wantErr string
	}{
		{name: "Empty", query: "", want: hookd.DeliveryFilter{Limit: pageSize}},
		{
			name:  "StatusChips",
			query: "status=5xx&status=notsent&status=failed",
			want:  hookd.DeliveryFilter{GroupStatus: hookd.GroupStatusNotSent | hookd.GroupStatus5xx | hookd.GroupStatusFailed, Limit: pageSize},
		},
		{name: "UnknownChip", query: "status=6xx", wantErr: `Unknown status filter "6xx"`},
		{
			name:  "WholeDayUTC",
			query: "date=2026-06-30",
			want: hookd.DeliveryFilter{DeliveryFrom: at("2026-06-30T00:00:00Z"),
				DeliveryTo: at("2026-06-30T23:59:59.999999999Z"), Limit: pageSize},
		},
		{
			// The browser in UTC+2 says -120: its 10:00-11:30 is 08:00-09:30 UTC.
			name:  "TimeRangeInBrowserZone",
			query: "date=2026-06-30&from=10:00&to=11:30&tz=-120",
			want: hookd.DeliveryFilter{DeliveryFrom: at("2026-06-30T08:00:00Z"),
				DeliveryTo: at("2026-06-30T09:30:59.999999999Z"), Limit: pageSize},
		},
		{
			name:  "RangeCrossesUTCMidnight",
			query: "date=2026-06-30&from=20:00&tz=300", // UTC-5
			want: hookd.DeliveryFilter{DeliveryFrom: at("2026-07-01T01:00:00Z"),
				DeliveryTo: at("2026-07-01T04:59:59.999999999Z"), Limit: pageSize},
		},
		{name: "TimeWithoutDate", query: "from=10:00", wantErr: "Pick a delivery date"},
		{name: "BadDate", query: "date=30/06/2026", wantErr: "The delivery date"},
		{name: "BadTime", query: "date=2026-06-30&to=25:00", wantErr: "The to time"},
		{name: "Reversed", query: "date=2026-06-30&from=12:00&to=11:00", wantErr: "must not be after"},
		{name: "BadZone", query: "date=2026-06-30&tz=east", wantErr: "time zone offset"},
		{name: "TriggerByName", query: "trigger=file.created", want: hookd.DeliveryFilter{Trigger: 1 << 7, Limit: pageSize}},
		{name: "TriggerAllIsNoFilter", query: "trigger=*", want: hookd.DeliveryFilter{Limit: pageSize}},
		{name: "UnknownTrigger", query: "trigger=file.burnt", wantErr: `Unknown trigger "file.burnt"`},
		{name: "EventID", query: "eventId=17", want: hookd.DeliveryFilter{DeliveryID: ptr(17), Limit: pageSize}},
		{name: "BadEventID", query: "eventId=-3", wantErr: "The event id must be a positive whole number"},
		{name: "Webhook", query: "webhook=4", want: hookd.DeliveryFilter{WebhookID: ptr(4), Limit: pageSize}},
		{
			name:  "PagePinnedToMaxID",
			query: "page=3&maxId=900",
			want:  hookd.DeliveryFilter{MaxID: ptr(900), Offset: 2 * pageSize, Limit: pageSize},
		},
		{name: "BadPage", query: "page=0", wantErr: "The page must be a number from 1."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseHistoryFilter(q)
			if tc.wantErr != "" {
				if err == nil || hookd.ErrorCode(err) != hookd.EINVALID || !strings.Contains(hookd.ErrorMessage(err), tc.wantErr) {
					t.Fatalf("got error %v, want EINVALID with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tc.want, f.storeFilter(admin, 0)); diff != "" {
				t.Fatalf("store filter (-want +got):\n%s", diff)
			}
			// The links of the page carry the same filter.
			again, err := parseHistoryFilter(f.values(f.Page, f.MaxID))
			if err != nil {
				t.Fatalf("parse the filter's own query %q: %v", f.values(f.Page, f.MaxID).Encode(), err)
			}
			if diff := cmp.Diff(f.storeFilter(admin, 0), again.storeFilter(admin, 0)); diff != "" {
				t.Fatalf("round trip through the URL (-first +second):\n%s", diff)
			}
		})
	}
}

func TestStoreFilterRoles(t *testing.T) {
	t.Parallel()
	user := &hookd.Key{Role: hookd.RoleUser, UserID: "u-1"}
	f, err := parseHistoryFilter(url.Values{"webhook": {"9"}})
	if err != nil {
		t.Fatal(err)
	}
	sf := f.storeFilter(user, 0)
	if sf.CreatedBy == nil || *sf.CreatedBy != "u-1" {
		t.Fatalf("user's filter: got CreatedBy %v, want u-1", sf.CreatedBy)
	}
	if sf := f.storeFilter(user, 3); *sf.WebhookID != 3 {
		t.Fatalf("path webhook: got %d, want 3 (the path wins over the query)", *sf.WebhookID)
	}
	admin := &hookd.Key{Role: hookd.RoleAdmin, UserID: "a-1"}
	if sf := f.storeFilter(admin, 0); sf.CreatedBy != nil {
		t.Fatalf("admin's filter: got CreatedBy %q, want none", *sf.CreatedBy)
	}
}
