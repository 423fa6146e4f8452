package httpapi

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Paging limits of the log listing (DocSpace ApiContext: DefaultCount = MaxCount = 100).
const (
	defaultLogCount = 100
	maxLogCount     = 100
)

// uuidPattern matches a textual UUID in its canonical 8-4-4-4-12 form.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// naiveTimeLayouts are the date forms accepted besides RFC 3339; they carry no offset and are
// read as UTC. The DocSpace UI sends "YYYY-MM-DDTHH:mm:ss"; time.Parse accepts fractional
// seconds after the seconds field on its own.
var naiveTimeLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// query reads query parameters by case-insensitive name, as ASP.NET binds them. An empty
// value counts as absent.
type query map[string]string

func newQuery(v url.Values) query {
	q := query{}
	for name, values := range v {
		key := strings.ToLower(name)
		if _, seen := q[key]; !seen && len(values) > 0 {
			q[key] = strings.TrimSpace(values[0])
		}
	}
	return q
}

// int64 reads an integer parameter; ok is false when it is absent.
func (q query) int64(name string) (n int64, ok bool, err error) {
	s := q[strings.ToLower(name)]
	if s == "" {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, invalidParam(name, s, "an integer")
	}
	return n, true, nil
}

// int64Ptr reads an optional integer filter.
func (q query) int64Ptr(name string) (*int64, error) {
	n, ok, err := q.int64(name)
	if !ok || err != nil {
		return nil, err
	}
	return &n, nil
}

// time reads an optional date filter.
func (q query) time(name string) (*time.Time, error) {
	s := q[strings.ToLower(name)]
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = t.UTC()
		return &t, nil
	}
	for _, layout := range naiveTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, invalidParam(name, s, "a date: RFC 3339 (2026-06-30T10:00:00Z), or YYYY-MM-DDTHH:mm:ss or YYYY-MM-DD read as UTC")
}

// invalidParam is the 400 error for a query parameter that cannot be read.
func invalidParam(name, value, want string) error {
	return hookd.Errorf(hookd.EINVALID, "The value '%s' is not valid for %s: want %s.", value, name, want)
}

// logFilter reads the log listing's query (spec §1.6) into a store filter. A caller who is
// not an admin only ever sees the deliveries of its own webhooks, whatever userId says.
func logFilter(v url.Values, k *hookd.Key) (hookd.DeliveryFilter, error) {
	q := newQuery(v)
	var f hookd.DeliveryFilter
	var err error
	if f.DeliveryFrom, err = q.time("deliveryFrom"); err != nil {
		return f, err
	}
	if f.DeliveryTo, err = q.time("deliveryTo"); err != nil {
		return f, err
	}
	if s := q["hookuri"]; s != "" {
		f.HookURI = &s
	}
	if f.WebhookID, err = q.int64Ptr("configId"); err != nil {
		return f, err
	}
	if f.DeliveryID, err = q.int64Ptr("eventId"); err != nil {
		return f, err
	}
	if f.MaxID, err = q.int64Ptr("maxId"); err != nil {
		return f, err
	}
	if s := q["groupstatus"]; s != "" {
		if f.GroupStatus, err = hookd.ParseGroupStatus(s); err != nil {
			return f, err
		}
	}
	if s := q["userid"]; s != "" {
		if !uuidPattern.MatchString(s) {
			return f, invalidParam("userId", s, "a UUID")
		}
		s = strings.ToLower(s)
		f.CreatedBy = &s
	}
	if !isAdmin(k) {
		f.CreatedBy = &k.UserID
	}
	if s := q["trigger"]; s != "" {
		t, err := hookd.ParseTrigger(s)
		if err != nil {
			return f, invalidParam("trigger", s, "one trigger name or value (such as file.created or 128), not a combination")
		}
		f.Trigger = t
	}
	if err := q.paging(&f); err != nil {
		return f, err
	}
	return f, nil
}

// paging reads count (1..100, default 100) and startIndex (0 or more) into f.
func (q query) paging(f *hookd.DeliveryFilter) error {
	count, ok, err := q.int64("count")
	switch {
	case err != nil:
		return err
	case !ok:
		count = defaultLogCount
	case count < 1 || count > maxLogCount:
		return invalidParam("count", q["count"], "an integer from 1 to 100")
	}
	start, _, err := q.int64("startIndex")
	switch {
	case err != nil:
		return err
	case start < 0 || start > 1<<31:
		return invalidParam("startIndex", q["startindex"], "an integer from 0 to 2147483648")
	}
	f.Limit, f.Offset = int(count), int(start)
	return nil
}
