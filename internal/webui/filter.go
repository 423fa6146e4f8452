package webui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// pageSize is how many deliveries one history page shows.
const pageSize = 50

// chip is one status filter of the history (spec §1.6 groupStatus, plus hookd's Failed).
type chip struct {
	Value string // the URL value, a name hookd.ParseGroupStatus reads
	Label string
}

// statusChips are the history's status filters in the order they are shown.
var statusChips = []chip{
	{"notsent", "Not sent"}, {"2xx", "2xx"}, {"3xx", "3xx"}, {"4xx", "4xx"}, {"5xx", "5xx"}, {"failed", "Failed"},
}

// historyFilter is the history's filter as the URL carries it, so that a view can be shared:
// status chips, a delivery date with a from and to time in the browser's zone, a trigger, an
// event id, the webhook (in the history of all), the page, and the newest id of the listing
// so that paging is stable while new deliveries arrive.
type historyFilter struct {
	Status  []string      // chip values, in statusChips order
	Date    string        // YYYY-MM-DD, the browser's local date
	From    string        // HH:MM, local
	To      string        // HH:MM, local
	TZ      string        // the browser's Date.getTimezoneOffset() in minutes (UTC+2 is -120)
	Trigger hookd.Trigger // one trigger, 0 = all
	EventID int64         // the delivery (log row) id, DocSpace's eventId
	Webhook int64         // the webhook, in the history of all
	Page    int           // 1-based
	MaxID   int64         // only deliveries up to this id; 0 = up to the newest

	group    hookd.GroupStatus
	from, to *time.Time // the delivery range in UTC
}

// parseHistoryFilter reads the filter from a query. On a bad value it returns the filter as
// far as it was read and an EINVALID error that says which field is wrong.
func parseHistoryFilter(q url.Values) (historyFilter, error) {
	f := historyFilter{Page: 1}
	for _, c := range statusChips {
		if slices.Contains(q["status"], c.Value) {
			f.Status = append(f.Status, c.Value)
		}
	}
	for _, v := range q["status"] {
		if !slices.ContainsFunc(statusChips, func(c chip) bool { return c.Value == v }) && v != "" {
			return f, hookd.Errorf(hookd.EINVALID, "Unknown status filter %q: use notsent, 2xx, 3xx, 4xx, 5xx or failed.", v)
		}
	}
	if len(f.Status) > 0 {
		g, err := hookd.ParseGroupStatus(strings.Join(f.Status, ","))
		if err != nil {
			return f, err
		}
		f.group = g
	}
	f.Date, f.From, f.To, f.TZ = q.Get("date"), q.Get("from"), q.Get("to"), q.Get("tz")
	if err := f.parseRange(); err != nil {
		return f, err
	}
	if s := strings.TrimSpace(q.Get("trigger")); s != "" && s != "*" {
		t, err := hookd.ParseTrigger(s)
		if err != nil || !t.Single() {
			return f, hookd.Errorf(hookd.EINVALID, "Unknown trigger %q: pick one from the list.", s)
		}
		f.Trigger = t
	}
	var err error
	if f.EventID, err = positiveInt(q, "eventId", "The event id"); err != nil {
		return f, err
	}
	if f.Webhook, err = positiveInt(q, "webhook", "The webhook"); err != nil {
		return f, err
	}
	if f.MaxID, err = positiveInt(q, "maxId", "maxId"); err != nil {
		return f, err
	}
	page, err := positiveInt(q, "page", "The page")
	if err != nil || page > 1<<20 {
		return f, hookd.Errorf(hookd.EINVALID, "The page must be a number from 1.")
	}
	if page > 0 {
		f.Page = int(page)
	}
	return f, nil
}

// positiveInt reads an optional positive integer; absent is 0.
func positiveInt(q url.Values, name, label string) (int64, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, hookd.Errorf(hookd.EINVALID, "%s must be a positive whole number, not %q.", label, s)
	}
	return n, nil
}

// parseRange turns the local date and times into a UTC range. A date alone is the whole day;
// times need a date. The zone is the browser's offset; without one the times are UTC.
func (f *historyFilter) parseRange() error {
	if f.Date == "" {
		if f.From != "" || f.To != "" {
			return hookd.Errorf(hookd.EINVALID, "Pick a delivery date for the time range.")
		}
		return nil
	}
	offset := 0
	if f.TZ != "" {
		n, err := strconv.Atoi(f.TZ)
		if err != nil || n < -14*60 || n > 14*60 {
			return hookd.Errorf(hookd.EINVALID, "The time zone offset %q is not valid: want minutes from -840 to 840.", f.TZ)
		}
		offset = n
	}
	loc := time.FixedZone("", -offset*60)
	day, err := time.ParseInLocation("2006-01-02", f.Date, loc)
	if err != nil {
		return hookd.Errorf(hookd.EINVALID, "The delivery date %q is not valid: want YYYY-MM-DD.", f.Date)
	}
	from, to := day, day.AddDate(0, 0, 1).Add(-time.Nanosecond)
	if f.From != "" {
		if from, err = clockOn(day, f.From); err != nil {
			return hookd.Errorf(hookd.EINVALID, "The from time %q is not valid: want HH:MM.", f.From)
		}
	}
	if f.To != "" {
		if to, err = clockOn(day, f.To); err != nil {
			return hookd.Errorf(hookd.EINVALID, "The to time %q is not valid: want HH:MM.", f.To)
		}
		to = to.Add(time.Minute - time.Nanosecond) // the whole last minute
	}
	if to.Before(from) {
		return hookd.Errorf(hookd.EINVALID, "The from time must not be after the to time.")
	}
	from, to = from.UTC(), to.UTC()
	f.from, f.to = &from, &to
	return nil
}

// clockOn returns day at the time of day hhmm ("15:04" or "15:04:05").
func clockOn(day time.Time, hhmm string) (time.Time, error) {
	layout := "15:04"
	if strings.Count(hhmm, ":") == 2 {
		layout = "15:04:05"
	}
	t, err := time.Parse(layout, hhmm)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(day.Year(), day.Month(), day.Day(), t.Hour(), t.Minute(), t.Second(), 0, day.Location()), nil
}

// storeFilter returns the store's filter for one page of the history of webhookID (0 = all).
// A key that is not an admin's only ever sees its own webhooks' deliveries.
func (f historyFilter) storeFilter(k *hookd.Key, webhookID int64) hookd.DeliveryFilter {
	sf := hookd.DeliveryFilter{
		DeliveryFrom: f.from,
		DeliveryTo:   f.to,
		GroupStatus:  f.group,
		Trigger:      f.Trigger,
		Offset:       (f.Page - 1) * pageSize,
		Limit:        pageSize,
	}
	if webhookID == 0 {
		webhookID = f.Webhook
	}
	if webhookID != 0 {
		sf.WebhookID = &webhookID
	}
	if f.EventID != 0 {
		sf.DeliveryID = &f.EventID
	}
	if f.MaxID != 0 {
		sf.MaxID = &f.MaxID
	}
	if !isAdmin(k) {
		sf.CreatedBy = &k.UserID
	}
	return sf
}

// values returns the filter as a query, for links; page and maxId are set as given, 0 leaves
// them out.
func (f historyFilter) values(page int, maxID int64) url.Values {
	q := url.Values{}
	for _, s := range f.Status {
		q.Add("status", s)
	}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("date", f.Date)
	set("from", f.From)
	set("to", f.To)
	if f.Date != "" {
		set("tz", f.TZ)
	}
	if f.Trigger != 0 {
		q.Set("trigger", f.Trigger.Name())
	}
	if f.EventID != 0 {
		q.Set("eventId", strconv.FormatInt(f.EventID, 10))
	}
	if f.Webhook != 0 {
		q.Set("webhook", strconv.FormatInt(f.Webhook, 10))
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if maxID != 0 {
		q.Set("maxId", strconv.FormatInt(maxID, 10))
	}
	return q
}

// active reports whether any filter narrows the listing.
func (f historyFilter) active() bool {
	return len(f.Status) > 0 || f.Date != "" || f.Trigger != 0 || f.EventID != 0 || f.Webhook != 0
}

// has reports whether the status chip v is on.
func (f historyFilter) has(v string) bool { return slices.Contains(f.Status, v) }
