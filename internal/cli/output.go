package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/client"
)

// writeJSON prints v as one indented JSON document. Field names are those of package
// client's models, which follow the DocSpace wire names; times are RFC 3339.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

// newTable starts a table with a header row.
func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// localTime shows a time in the local zone for tables; "-" when absent.
func localTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func idOrDash(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

// statusText shows a delivery status: the HTTP code, or "not sent" for 0.
func statusText(status int) string {
	if status == 0 {
		return "not sent"
	}
	return strconv.Itoa(status)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeDeliveries prints deliveries as a table.
func writeDeliveries(w io.Writer, ds []*client.Delivery) error {
	t := newTable(w, "ID", "CREATED", "WEBHOOK", "TRIGGER", "STATUS", "STATE", "ATTEMPTS", "DELIVERED", "RETRY OF")
	for _, d := range ds {
		hook := d.ConfigName
		if hook == "" && d.ConfigID != 0 {
			hook = "#" + strconv.FormatInt(d.ConfigID, 10)
		}
		attempts := "-"
		if d.State != "" {
			attempts = strconv.Itoa(d.Attempts)
		}
		t.row(strconv.FormatInt(d.ID, 10), localTime(&d.CreationTime), orDash(hook), d.Trigger.String(),
			statusText(d.Status), orDash(d.State), attempts, localTime(d.Delivery), idOrDash(d.RetryOf))
	}
	return t.flush()
}

// progress draws a one-line progress bar on a terminal; elsewhere it prints nothing, so that
// logs and pipes stay clean.
type progress struct {
	w     io.Writer
	on    bool
	label string
	total int
	drawn bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, on: isTerminal(w), label: label, total: total}
}

// set redraws the bar at n done.
func (p *progress) set(n int) {
	if !p.on {
		return
	}
	p.drawn = true
	const width = 30
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %d", p.label, n)
		return
	}
	filled := min(width, n*width/p.total)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat("-", width-filled), n, p.total)
}

// done ends the bar's line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
