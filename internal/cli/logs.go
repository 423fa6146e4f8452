package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/client"
)

// logFlags are the log filters of spec §1.6 as flags, shared by logs and retry --failed.
type logFlags struct {
	from, to   string
	since      time.Duration
	hookURI    string
	webhook    int64
	id         int64
	statuses   []string
	userID     string
	trigger    string
	maxID      int64
	count      int
	startIndex int
}

func (f *logFlags) add(cmd *cobra.Command, paging bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "delivered at or after this time (deliveryFrom): RFC 3339, or 2006-01-02[ 15:04[:05]] in local time")
	fl.StringVar(&f.to, "to", "", "delivered at or before this time (deliveryTo), same forms as --from")
	fl.DurationVar(&f.since, "since", 0, "delivered within this long before now, e.g. 2h (sets deliveryFrom)")
	fl.StringVar(&f.hookURI, "hook-uri", "", "only deliveries to webhooks with exactly this URI")
	fl.Int64Var(&f.webhook, "webhook", 0, "only deliveries of this webhook id (configId)")
	fl.StringVar(&f.userID, "user-id", "", "only deliveries of webhooks created by this user (uuid)")
	fl.StringVar(&f.trigger, "trigger", "", "only deliveries of this trigger, e.g. file.created")
	if paging {
		fl.StringSliceVar(&f.statuses, "status", nil, "only these status classes: failed, not-sent, 2xx, 3xx, 4xx, 5xx (repeatable)")
		fl.Int64Var(&f.id, "id", 0, "only the delivery with this id (eventId)")
		fl.Int64Var(&f.maxID, "max-id", 0, "only deliveries with ids up to this one (hookd only)")
		fl.IntVar(&f.count, "count", client.MaxPageSize, "deliveries per page, 1-100")
		fl.IntVar(&f.startIndex, "start-index", 0, "deliveries to skip, newest first")
	}
}

// filter turns the flags into a client filter, now being the time --since counts back from.
func (f *logFlags) filter(now time.Time) (client.DeliveryFilter, error) {
	df := client.DeliveryFilter{HookURI: f.hookURI, ConfigID: f.webhook, EventID: f.id, UserID: f.userID,
		MaxID: f.maxID, Count: f.count, StartIndex: f.startIndex}
	var err error
	if df.DeliveryFrom, err = parseWhen(f.from, "--from"); err != nil {
		return df, err
	}
	if df.DeliveryTo, err = parseWhen(f.to, "--to"); err != nil {
		return df, err
	}
	if f.since < 0 {
		return df, withExit(ExitUsage, errors.New("--since: give a positive duration, e.g. 2h"))
	}
	if f.since > 0 {
		if !df.DeliveryFrom.IsZero() {
			return df, withExit(ExitUsage, errors.New("give --since or --from, not both"))
		}
		df.DeliveryFrom = now.Add(-f.since).Truncate(time.Second)
	}
	for _, s := range f.statuses {
		for _, part := range strings.Split(s, ",") {
			g, err := client.ParseGroupStatus(part)
			if err != nil {
				return df, withExit(ExitUsage, fmt.Errorf("--status: %w", err))
			}
			df.GroupStatus |= g
		}
	}
	if f.trigger != "" {
		t, err := client.ParseTrigger(f.trigger)
		if err != nil || len(t.Names()) != 1 || t == client.TriggerAll {
			return df, withExit(ExitUsage, fmt.Errorf("--trigger %q: give one trigger such as file.created (see hookd triggers)", f.trigger))
		}
		df.Trigger = t
	}
	if f.count < 1 || f.count > client.MaxPageSize {
		return df, withExit(ExitUsage, fmt.Errorf("--count %d: use 1 to %d", f.count, client.MaxPageSize))
	}
	if f.startIndex < 0 {
		return df, withExit(ExitUsage, errors.New("--start-index: use 0 or more"))
	}
	return df, nil
}

// parseWhen reads a time flag: RFC 3339, or a date and time without zone in local time.
func parseWhen(s, flag string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, withExit(ExitUsage, fmt.Errorf("%s %q: use RFC 3339 (2026-06-30T10:00:00Z) or 2026-06-30 10:00 in local time", flag, s))
}

// logPage is the JSON document logs prints.
type logPage struct {
	Total      int64              `json:"total"` // matches before paging; -1 if the server did not say
	StartIndex int                `json:"startIndex"`
	Deliveries []*client.Delivery `json:"deliveries"`
}

func newLogsCmd(a *app) *cobra.Command {
	c := &conn{}
	f := &logFlags{}
	var all bool
	cmd := &cobra.Command{
		Use:   "logs [filters]",
		Short: "Show the delivery log, newest first",
		Long: `Show the delivery log, newest first: one page, or every matching delivery with --all.

--since and --from filter on the time of the last answer (DocSpace's deliveryFrom); a real
DocSpace records that time only for successful deliveries.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogs(cmd, a, c, f, all) },
	}
	addConnFlags(a, cmd, c)
	f.add(cmd, true)
	cmd.Flags().BoolVar(&all, "all", false, "page through every matching delivery")
	cmd.AddCommand(newLogsAttemptsCmd(a, c))
	return cmd
}

// runLogs prints one page of the log, or every page with all.
func runLogs(cmd *cobra.Command, a *app, c *conn, f *logFlags, all bool) error {
	df, err := f.filter(time.Now())
	if err != nil {
		return err
	}
	cl, err := c.client(a)
	if err != nil {
		return err
	}
	out := logPage{StartIndex: df.StartIndex, Deliveries: []*client.Delivery{}}
	if all {
		p := cl.DeliveryPager(df)
		for {
			page, err := p.Next(cmd.Context())
			if err != nil {
				return c.explain(err, "")
			}
			if len(page) == 0 {
				break
			}
			out.Deliveries = append(out.Deliveries, page...)
		}
		out.Total = p.Total()
	} else {
		page, err := cl.Deliveries(cmd.Context(), df)
		if err != nil {
			return c.explain(err, "")
		}
		out.Total, out.Deliveries = page.Total, append(out.Deliveries, page.Deliveries...)
	}
	if f.id != 0 && len(out.Deliveries) == 0 {
		return withExit(ExitNotFound, fmt.Errorf("delivery %d was not found", f.id))
	}
	if c.json() {
		return writeJSON(a.stdout, out)
	}
	if err := writeDeliveries(a.stdout, out.Deliveries); err != nil {
		return err
	}
	if n := len(out.Deliveries); !all && out.Total > int64(df.StartIndex+n) {
		fmt.Fprintf(a.stderr, "showing %d-%d of %d; --all shows every one, --start-index %d the next page\n",
			df.StartIndex+min(n, 1), df.StartIndex+n, out.Total, df.StartIndex+n)
	}
	return nil
}

func newLogsAttemptsCmd(a *app, c *conn) *cobra.Command {
	return &cobra.Command{
		Use:   "attempts ID",
		Short: "Show every HTTP attempt of one delivery (hookd only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args, "delivery")
			if err != nil {
				return err
			}
			cl, err := c.client(a)
			if err != nil {
				return err
			}
			attempts, err := cl.Attempts(cmd.Context(), ids[0])
			if err != nil {
				return c.explain(err, "delivery "+args[0])
			}
			if c.json() {
				if attempts == nil {
					attempts = []*client.Attempt{}
				}
				return writeJSON(a.stdout, attempts)
			}
			t := newTable(a.stdout, "#", "STARTED", "DURATION", "STATUS", "ERROR")
			for _, at := range attempts {
				t.row(strconv.Itoa(at.Number), localTime(&at.StartedOn), (time.Duration(at.DurationMs) * time.Millisecond).String(),
					statusText(at.Status), orDash(at.Error))
			}
			return t.flush()
		},
	}
}
