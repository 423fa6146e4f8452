package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// pageNames are the templates under templates/, one per page; each is parsed together with
// layout.html and parts.html.
var pageNames = []string{"signin", "webhooks", "webhook_form", "webhook_delete", "history", "details", "error"}

// pageSet holds one parsed template per page.
type pageSet struct {
	pages map[string]*template.Template
}

func mustParsePages() *pageSet {
	ps := &pageSet{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t := template.Must(template.New(name).Funcs(templateFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
		ps.pages[name] = t
	}
	return ps
}

// templateFuncs are the helpers the templates call.
var templateFuncs = template.FuncMap{
	"timeTag": timeTag,
	"trigger": triggerLabel,
	"triggerSummary": func(t hookd.Trigger) string {
		return triggerSummary(t, 3)
	},
	"triggerFull": func(t hookd.Trigger) string { return triggerSummary(t, 0) },
	"duration":    formatDuration,
	"size":        formatSize,
	"deliveryBadge": func(d *hookd.Delivery) badge {
		return deliveryBadge(d)
	},
	"attemptBadge": attemptBadge,
	"statusBadge":  webhookBadge,
	"health":       newHealthView,
	"stateLabel":   stateLabel,
	"plural": func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

// timeTag renders a time.Time or *time.Time as a <time> element in UTC, which the page's
// script rewrites in the browser's zone; a nil or zero time is a dash. The text is digits and
// fixed letters only, so it needs no escaping.
func timeTag(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "–"
	}
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339Nano) + `">` + t.Format("2006-01-02 15:04:05") + ` UTC</time>`)
}

// base is what every page's data carries for the layout.
type base struct {
	Title    string
	Nav      string // "webhooks" or "history": the active menu entry
	Key      *hookd.Key
	CSRF     string
	Flash    *flash
	CanWrite bool
	IsAdmin  bool
}

// newBase fills the layout's part of a page for the signed-in session s (nil on sign-in).
func newBase(s *session, title, nav string) base {
	b := base{Title: title, Nav: nav}
	if s != nil {
		b.Key = s.key
		b.CSRF = s.csrf
		b.CanWrite = canWrite(s.key)
		b.IsAdmin = isAdmin(s.key)
		b.Flash = s.flash
	}
	return b
}

// render executes page into a buffer first, so that a template error becomes a clean 500
// rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := u.pages.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		u.logger.Error("render page", "page", page, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorStatus maps a hookd error code to the page's HTTP status.
var errorStatus = map[string]int{
	hookd.EINVALID:        http.StatusBadRequest,
	hookd.EUNAUTHORIZED:   http.StatusUnauthorized,
	hookd.EFORBIDDEN:      http.StatusForbidden,
	hookd.ENOTFOUND:       http.StatusNotFound,
	hookd.ECONFLICT:       http.StatusConflict,
	hookd.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	hookd.ERATELIMITED:    http.StatusTooManyRequests,
	hookd.EUNAVAILABLE:    http.StatusServiceUnavailable,
	hookd.ENOTIMPLEMENTED: http.StatusNotImplemented,
	hookd.EINTERNAL:       http.StatusInternalServerError,
}

// errorPage is the data of the error page.
type errorPage struct {
	base
	Status  int
	Message string
}

// renderError shows err on the error page: a hookd.Error's message as it is, anything else
// as a generic message with the detail logged.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := hookd.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == hookd.EINTERNAL {
		u.logger.Error("web ui", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if s != nil {
		s.flash = nil // keep a pending notice for the next page that works
	}
	u.render(w, r, status, "error", errorPage{
		base:    newBase(s, http.StatusText(status), ""),
		Status:  status,
		Message: hookd.ErrorMessage(err),
	})
}

// badge is a coloured status label: Class picks the colour (ok, fail, warn, wait, idle).
type badge struct {
	Class string
	Text  string
	Title string
}

// deliveryBadge labels a delivery by where it is and what its last attempt got.
func deliveryBadge(d *hookd.Delivery) badge {
	switch d.State {
	case hookd.DeliveryStatePending:
		return badge{"idle", "Not sent", "Pending: not tried yet"}
	case hookd.DeliveryStateInflight:
		return badge{"wait", "Sending", "An attempt is in progress"}
	case hookd.DeliveryStateRetrying:
		return badge{"warn", statusText(d.Status), "Failed, will be retried: " + stateDetail(d)}
	case hookd.DeliveryStateDelivered:
		return badge{"ok", statusText(d.Status), "Delivered"}
	case hookd.DeliveryStateHeld:
		return badge{"idle", "Held", stateLabel(d.State)}
	}
	if d.Attempts == 0 {
		return badge{"fail", "Not sent", "Failed without an attempt: " + stateDetail(d)}
	}
	return badge{"fail", statusText(d.Status), "Failed: " + stateDetail(d)}
}

// attemptBadge labels one attempt by its answer.
func attemptBadge(a *hookd.Attempt) badge {
	if a.Status >= 200 && a.Status < 300 {
		return badge{"ok", statusText(a.Status), "Delivered"}
	}
	return badge{"fail", statusText(a.Status), a.Error}
}

// webhookBadge labels a webhook by the status of its newest answered delivery, as DocSpace's
// list does: green for 2xx, red otherwise, "Not sent" when there is none.
func webhookBadge(status int) badge {
	switch {
	case status == 0:
		return badge{"idle", "Not sent", "No answered delivery yet"}
	case status >= 200 && status < 300:
		return badge{"ok", statusText(status), "Last delivery succeeded"}
	}
	return badge{"fail", statusText(status), "Last delivery failed"}
}

func stateDetail(d *hookd.Delivery) string {
	if d.LastError != "" {
		return d.LastError
	}
	return stateLabel(d.State)
}

// statusText is an HTTP status as a badge shows it.
func statusText(status int) string {
	if status == 0 {
		return "No answer"
	}
	return fmt.Sprint(status)
}

// stateLabel names a delivery state for people.
func stateLabel(s hookd.DeliveryState) string {
	switch s {
	case hookd.DeliveryStatePending:
		return "Pending"
	case hookd.DeliveryStateInflight:
		return "Sending"
	case hookd.DeliveryStateRetrying:
		return "Retrying"
	case hookd.DeliveryStateDelivered:
		return "Delivered"
	case hookd.DeliveryStateFailed:
		return "Failed"
	case hookd.DeliveryStateHeld:
		return "Held (waiting: webhook paused)"
	}
	return string(s)
}

// live reports whether a delivery may still change on its own, so the page polls it. A held
// one goes out when its webhook resumes or is probed.
func live(s hookd.DeliveryState) bool {
	switch s {
	case hookd.DeliveryStatePending, hookd.DeliveryStateInflight, hookd.DeliveryStateRetrying, hookd.DeliveryStateHeld:
		return true
	}
	return false
}

// triggerLabel names one trigger, or shows its number when it is not a defined one.
func triggerLabel(t hookd.Trigger) string {
	if n := t.Name(); n != "" {
		return n
	}
	return fmt.Sprint(int64(t))
}

// triggerSummary lists the triggers of a mask, at most max names (0 = all) and "+N" for the
// rest; 0 is "All events".
func triggerSummary(t hookd.Trigger, max int) string {
	if t == hookd.TriggerAll {
		return "All events"
	}
	names := t.Names()
	if max > 0 && len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(" +%d", len(names)-max)
	}
	return strings.Join(names, ", ")
}

// formatDuration shows an attempt's duration in the unit that suits it.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}

// formatSize shows a byte count.
func formatSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
}
