package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine describes where a run happened; the load averages say how much else was running.
type Machine struct {
	CPUs       int     `json:"cpus"`
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	GoVersion  string  `json:"goVersion"`
	LoadBefore float64 `json:"loadBefore"` // one-minute load average when the run started
	LoadAfter  float64 `json:"loadAfter"`
}

func currentMachine() Machine {
	return Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		GoVersion: runtime.Version(), LoadBefore: loadAverage()}
}

// Scenario is the part of the Config a report repeats.
type Scenario struct {
	Backend     string  `json:"backend"`
	Events      int     `json:"events"`
	Webhooks    int     `json:"webhooks"`
	Failing     int     `json:"failing"`
	Slow        int     `json:"slow"`
	SlowDelay   string  `json:"slowDelay,omitempty"`
	Struggling  int     `json:"struggling"`            // webhooks whose receiver takes StruggleCap at once
	StruggleCap int     `json:"struggleCap,omitempty"` // requests in flight it takes before it answers 503
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"` // events per second, 0 = as fast as possible
	Backlog     bool    `json:"backlog"`
	// Batch is the events per publish request to the batch endpoint; 0 = the single publish
	// endpoint, one request per event.
	Batch int `json:"batch"`
}

// RunResult is what one side (hookd or the baseline) achieved.
type RunResult struct {
	// Deliveries is the number of first attempts the receiver got (deduplicated).
	Deliveries int64 `json:"deliveries"`
	// Duration runs from the first publish (baseline: first request; backlog: server ready)
	// to the last first attempt received.
	Duration         time.Duration `json:"duration"`
	DeliveriesPerSec float64       `json:"deliveriesPerSec"`
	// Recorded runs to the moment no delivery waits for its first attempt to be recorded in
	// the store (hookd only).
	Recorded       time.Duration `json:"recorded,omitempty"`
	RecordedPerSec float64       `json:"recordedPerSec,omitempty"`
	// Publish is how the publishers fared (hookd end to end only).
	Publish *PublishResult `json:"publish,omitempty"`
	// Held is the deliveries still held (their webhook paused) without any attempt when the
	// run ended, so never received: Deliveries + Held is every delivery (hookd only).
	Held int64 `json:"held,omitempty"`
	// Latency is publish to receipt of the first attempts to healthy webhooks (for a backlog,
	// generation to receipt: not meaningful); SlowLatency the same for slow webhooks.
	Latency     Latency  `json:"latency"`
	SlowLatency *Latency `json:"slowLatency,omitempty"`
	Retries     int64    `json:"retries"`    // automatic retries received during the run
	Duplicates  int64    `json:"duplicates"` // first attempts received twice
	// Process is hookd serve, or the baseline's client process: CPU time during the run and
	// peak RSS over its life.
	Process Usage `json:"process"`
	// Receiver is the receiver's CPU time during the run.
	Receiver Usage `json:"receiver"`
	// Struggle is what the struggling webhooks' receivers saw, up to the end of the run.
	Struggle *StruggleResult `json:"struggle,omitempty"`
	// Generated is how long writing the backlog into the store took.
	Generated time.Duration `json:"generated,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Machine  Machine    `json:"machine"`
	Scenario Scenario   `json:"scenario"`
	Hookd    *RunResult `json:"hookd"`
	Baseline *RunResult `json:"baseline,omitempty"`
	// Ratio is hookd's deliveries per second over the baseline's: the headline. For a
	// backlog it counts recorded deliveries (every attempt durably recorded).
	Ratio float64 `json:"ratio,omitempty"`
}

// WriteJSON writes r as indented JSON; durations are nanoseconds.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a table for people.
func (r *Report) WriteTable(w io.Writer) error {
	s := r.Scenario
	mode := "end to end, one publish per event"
	switch {
	case s.Backlog:
		mode = "backlog drain"
	case s.Batch > 0:
		mode = fmt.Sprintf("end to end, batch publish of %d events per request", s.Batch)
	}
	rateText := "as fast as possible"
	if s.Rate > 0 {
		rateText = fmt.Sprintf("%g events/s", s.Rate)
	}
	struggling := ""
	if s.Struggling > 0 {
		struggling = fmt.Sprintf(", %d struggling (cap %d)", s.Struggling, s.StruggleCap)
	}
	fmt.Fprintf(w, "hookd bench: %s on %s; %d events x %d webhooks (%d failing, %d slow%s); concurrency %d; %s\n",
		mode, s.Backend, s.Events, s.Webhooks, s.Failing, s.Slow, struggling, s.Concurrency, rateText)
	fmt.Fprintf(w, "machine: %d CPUs %s/%s %s; load average %.2f before, %.2f after\n\n",
		r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, r.Machine.GoVersion, r.Machine.LoadBefore, r.Machine.LoadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	b := r.Baseline
	if b == nil {
		b = &RunResult{}
	}
	h := r.Hookd
	row := func(name, hv, bv string) { fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, hv, bv) }
	row("", "hookd", "baseline")
	if h.Publish != nil {
		row("publish accepted/s", fmt.Sprintf("%.0f", h.Publish.Rate), "-")
		row("publish p99", ms(h.Publish.Latency.P99), "-")
		if h.Publish.Errors > 0 {
			row("publish errors", fmt.Sprint(h.Publish.Errors), "-")
		}
	}
	if h.Generated > 0 {
		row("backlog generated in", secs(h.Generated), "-")
	}
	row("deliveries", fmt.Sprint(h.Deliveries), fmt.Sprint(b.Deliveries))
	if h.Held > 0 {
		row("held, never attempted", fmt.Sprint(h.Held), "-")
	}
	row("deliveries/s (received)", fmt.Sprintf("%.0f", h.DeliveriesPerSec), fmt.Sprintf("%.0f", b.DeliveriesPerSec))
	row("deliveries/s (recorded)", fmt.Sprintf("%.0f", h.RecordedPerSec), "-")
	hl := func(d time.Duration) string {
		if s.Backlog {
			return "-" // generated, not published: no publish time to measure from
		}
		return ms(d)
	}
	if s.Failing+s.Slow+s.Struggling > 0 {
		row("(first attempts: healthy webhooks)", "", "")
	}
	row("first attempt p50", hl(h.Latency.P50), ms(b.Latency.P50))
	row("first attempt p95", hl(h.Latency.P95), ms(b.Latency.P95))
	row("first attempt p99", hl(h.Latency.P99), ms(b.Latency.P99))
	row("first attempt max", hl(h.Latency.Max), ms(b.Latency.Max))
	if h.SlowLatency != nil {
		bs := b.SlowLatency
		if bs == nil {
			bs = &Latency{}
		}
		row("slow webhooks p99", ms(h.SlowLatency.P99), ms(bs.P99))
	}
	if h.Struggle != nil {
		bs := b.Struggle
		if bs == nil {
			bs = &StruggleResult{}
		}
		row("struggling: requests", fmt.Sprint(h.Struggle.Requests), fmt.Sprint(bs.Requests))
		row("struggling: 503 share", pct(h.Struggle.Share503), pct(bs.Share503))
		row("struggling: peak in flight", fmt.Sprint(h.Struggle.PeakInflight), fmt.Sprint(bs.PeakInflight))
	}
	row("retries received", fmt.Sprint(h.Retries), fmt.Sprint(b.Retries))
	row("duplicates", fmt.Sprint(h.Duplicates), fmt.Sprint(b.Duplicates))
	row("CPU seconds (process)", fmt.Sprintf("%.2f", h.Process.CPU.Seconds()), fmt.Sprintf("%.2f", b.Process.CPU.Seconds()))
	row("peak RSS MB (process)", mb(h.Process.PeakRSS), mb(b.Process.PeakRSS))
	row("CPU seconds (receiver)", fmt.Sprintf("%.2f", h.Receiver.CPU.Seconds()), fmt.Sprintf("%.2f", b.Receiver.CPU.Seconds()))
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Baseline != nil {
		_, err := fmt.Fprintf(w, "\nhookd/baseline: %.1f %%\n", 100*r.Ratio)
		return err
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) }

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mb(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

// progressf writes one progress line.
func progressf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "hookd bench: "+strings.TrimSuffix(format, "\n")+"\n", args...)
}

// WriteJSON writes r as indented JSON; durations are nanoseconds.
func (r *QueryReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a table for people.
func (r *QueryReport) WriteTable(w io.Writer) error {
	gen := "reused"
	if r.Generated > 0 {
		gen = "generated in " + secs(r.Generated)
	}
	fmt.Fprintf(w, "hookd bench query: %s, %d deliveries (%s, %.0f MB on disk)\n", r.Backend, r.Size, gen, float64(r.DiskBytes)/(1<<20))
	fmt.Fprintf(w, "machine: %d CPUs %s/%s %s; load average %.2f before, %.2f after\n\n",
		r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, r.Machine.GoVersion, r.Machine.LoadBefore, r.Machine.LoadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "log listing\tp50\tp95\tmax\tfirst\trows\ttotal\t\n")
	for _, l := range r.Listings {
		if l.Error != "" {
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\n", l.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", l.Name, ms(l.Latency.P50), ms(l.Latency.P95), ms(l.Latency.Max), ms(l.First), l.Rows, l.Total)
	}
	fmt.Fprintf(tw, "retry of 100 ids\t%s\t%s\t%s\t\t\t\t\n", ms(r.RetryIDs.P50), ms(r.RetryIDs.P95), ms(r.RetryIDs.Max))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range r.Listings {
		if l.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", l.Name, l.Error)
		}
	}
	rf := r.RetryByFilter
	fmt.Fprintf(w, "\nretry --failed of %d deliveries: command %s, all received after %s\n", rf.Deliveries, secs(rf.Command), secs(rf.Drained))
	fmt.Fprintf(w, "live first-attempt latency: before p95 %s (p99 %s, %d events); during p95 %s (p99 %s, %d events): %+.0f %%\n",
		ms(rf.LiveBefore.P95), ms(rf.LiveBefore.P99), rf.LiveBefore.Count, ms(rf.LiveDuring.P95), ms(rf.LiveDuring.P99), rf.LiveDuring.Count,
		100*rf.Degradation)
	_, err := fmt.Fprintf(w, "server: %.1f CPU seconds, peak RSS %s MB\n", r.Server.CPU.Seconds(), mb(r.Server.PeakRSS))
	return err
}
