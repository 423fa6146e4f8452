package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// The log listing at millions of deliveries. DeliveryList's total is exact, and counting the
// matches of a filter row by row, then walking an OFFSET over them, is what made large
// listings slow. The totals come from the counters of migration 006 (delivery_counts and its
// deltas), kept by triggers per hour of delivered_on, webhook, trigger and status class. Only
// what the counters cannot answer is counted row by row: the deliveries of the two partial
// hours at the edges of a date range (within the ids the counters bound), the ones newer than
// MaxID, a single DeliveryID.
//
// The counters also say, per hour, between which ids its matches lie and how many there
// are. Hours whose id ranges do not overlap form disjoint spans of known size, so a page
// skips whole spans and walks only the rest of its offset in the span where it starts:
// page 1,000 of a date range reads one hour's deliveries instead of 100,000.

const neverBucket = -4611686018427387904 // the bucket of deliveries never attempted

// countsFrom is the counters as one relation c: the folded rows and the deltas not folded yet.
const countsFrom = ` FROM (SELECT bucket, webhook_id, trigger, class, n, lo, hi FROM delivery_counts
	UNION ALL SELECT bucket, webhook_id, trigger, class, n, lo, hi FROM delivery_count_deltas) c`

// hourOf is delivery_hour: the hour of t since 1970, rounded down.
func hourOf(t time.Time) int64 {
	s := t.Unix()
	h := s / 3600
	if s%3600 < 0 {
		h--
	}
	return h
}

// span is a range of delivery ids holding n matches of a filter, and no match outside it
// belongs to another span.
type span struct{ lo, hi, n int64 }

// listPlan is what the counters say about a filter: the total and the disjoint spans that
// hold every match, highest first.
type listPlan struct {
	total int64
	spans []span
}

// params numbers the arguments of a query as they are added.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// planList reads the counters for f in tx; false when they cannot answer f (a DeliveryID).
func planList(ctx context.Context, tx pgx.Tx, f hookd.DeliveryFilter) (*listPlan, bool, error) {
	from, to := microPtr(f.DeliveryFrom), microPtr(f.DeliveryTo)
	if f.DeliveryID != nil {
		return nil, false, nil
	}
	if from != nil && to != nil && from.After(*to) {
		return &listPlan{}, true, nil
	}
	var (
		args  params
		conds []string
		join  string
	)
	var fromB, toB int64
	if from != nil || to != nil {
		conds = append(conds, `c.bucket <> `+strconv.Itoa(neverBucket))
	}
	if from != nil {
		fromB = hourOf(*from)
		conds = append(conds, `c.bucket >= `+args.add(fromB))
	}
	if to != nil {
		toB = hourOf(*to)
		conds = append(conds, `c.bucket <= `+args.add(toB))
	}
	if f.HookURI != nil || f.CreatedBy != nil {
		join = ` JOIN webhooks w ON w.id = c.webhook_id`
	}
	if f.HookURI != nil {
		conds = append(conds, `w.uri = `+args.add(*f.HookURI))
	}
	if f.CreatedBy != nil {
		conds = append(conds, `w.created_by = `+args.add(*f.CreatedBy))
	}
	if f.WebhookID != nil {
		conds = append(conds, `c.webhook_id = `+args.add(*f.WebhookID))
	}
	if f.Trigger != 0 {
		conds = append(conds, `c.trigger = `+args.add(int64(f.Trigger)))
	}
	if f.GroupStatus != 0 {
		conds = append(conds, `c.class = ANY(`+args.add(f.GroupStatus.Classes())+`::smallint[])`)
	}
	where := ""
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	// Per key, not per hour: the keys of one hour may lie far apart (a webhook whose failed
	// deliveries were retried later, in one sweep), and their blocks then stay apart too.
	rows, err := tx.Query(ctx, `SELECT c.bucket, sum(c.n)::bigint, coalesce(min(c.lo), 0),
		coalesce(max(c.hi), 9223372036854775807)`+countsFrom+join+where+`
		GROUP BY c.bucket, c.webhook_id, c.trigger, c.class HAVING sum(c.n) > 0`, args...)
	if err != nil {
		return nil, false, err
	}
	var (
		blocks []span
		edges  = map[int64][]span{} // the blocks of the partial hours, by hour
		bucket int64
		b      span
	)
	_, err = pgx.ForEachRow(rows, []any{&bucket, &b.n, &b.lo, &b.hi}, func() error {
		if (from != nil && bucket == fromB) || (to != nil && bucket == toB) {
			edges[bucket] = append(edges[bucket], b)
		} else {
			blocks = append(blocks, b)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	for _, bucket := range []int64{fromB, toB} {
		ks := edges[bucket]
		if len(ks) == 0 {
			continue
		}
		delete(edges, bucket) // fromB == toB: once
		// A partial hour: count its matches among the ids its keys hold.
		g := f
		g.DeliveryFrom, g.DeliveryTo, g.MaxID = edge(from, to, bucket)
		rs := mergeSpans(ks)
		ns, err := countRanges(ctx, tx, g, rs)
		if err != nil {
			return nil, false, err
		}
		for i, r := range rs {
			if ns[i] > 0 {
				blocks = append(blocks, span{lo: r.lo, hi: r.hi, n: ns[i]})
			}
		}
	}
	p := &listPlan{spans: mergeSpans(blocks)}
	if f.MaxID != nil {
		if err := p.pin(ctx, tx, f); err != nil {
			return nil, false, err
		}
	}
	for _, sp := range p.spans {
		p.total += sp.n
	}
	return p, true, nil
}

// edge returns the part of the range from..to that falls in hour bucket, and a nil MaxID.
func edge(from, to *time.Time, bucket int64) (*time.Time, *time.Time, *int64) {
	start := time.Unix(bucket*3600, 0).UTC()
	end := start.Add(time.Hour - time.Microsecond)
	if from != nil && from.After(start) {
		start = *from
	}
	if to != nil && to.Before(end) {
		end = *to
	}
	return &start, &end, nil
}

// mergeSpans merges blocks whose id ranges overlap into disjoint spans, highest first.
// Blocks that only touch stay apart: each is a span a page can skip whole.
func mergeSpans(blocks []span) []span {
	slices.SortFunc(blocks, func(a, b span) int { return compareInt(a.lo, b.lo) })
	var out []span
	for _, b := range blocks {
		if n := len(out); n > 0 && b.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, b.hi)
			out[n-1].n += b.n
		} else {
			out = append(out, b)
		}
	}
	slices.Reverse(out)
	return out
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pin takes out of p the matches of f above f.MaxID, counted row by row: few, when MaxID pins
// a listing that new deliveries have since passed. They lie in the spans above MaxID, dropped,
// and in the one span across it, if any, which keeps the rest.
func (p *listPlan) pin(ctx context.Context, tx pgx.Tx, f hookd.DeliveryFilter) error {
	maxID := *f.MaxID
	if len(p.spans) == 0 || p.spans[0].hi <= maxID {
		return nil
	}
	g := f
	g.MaxID = nil
	above, err := countRows(ctx, tx, g, fmt.Sprintf(`d.id > %d`, maxID))
	if err != nil {
		return err
	}
	kept := p.spans[:0]
	for _, sp := range p.spans {
		switch {
		case sp.lo > maxID:
			above -= sp.n
		case sp.hi > maxID:
			sp.hi = maxID
			kept = append(kept, sp) // its n is fixed below, once the spans above are known
		default:
			kept = append(kept, sp)
		}
	}
	if len(kept) > 0 && kept[0].hi == maxID {
		kept[0].n -= above
		if kept[0].n <= 0 {
			kept = kept[1:]
		}
	}
	p.spans = kept
	return nil
}

// countRows counts the matches of f (and of extra, if not empty) row by row.
func countRows(ctx context.Context, tx pgx.Tx, f hookd.DeliveryFilter, extra string) (int64, error) {
	where, args := deliveryWhere(f)
	if extra != "" {
		where += ` AND ` + extra
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT count(*) FROM `+listFrom(f)+` WHERE `+where, args...).Scan(&n)
	return n, err
}

// countRanges counts the matches of f in each id range of rs, row by row, in one query.
func countRanges(ctx context.Context, tx pgx.Tx, f hookd.DeliveryFilter, rs []span) ([]int64, error) {
	where, args := deliveryWhere(f)
	counts := make([]string, len(rs))
	ranges := make([]string, len(rs))
	out := make([]int64, len(rs))
	dest := make([]any, len(rs))
	for i, r := range rs {
		ranges[i] = fmt.Sprintf(`d.id BETWEEN %d AND %d`, r.lo, r.hi)
		counts[i] = `count(*) FILTER (WHERE ` + ranges[i] + `)`
		dest[i] = &out[i]
	}
	err := tx.QueryRow(ctx, `SELECT `+strings.Join(counts, `, `)+` FROM `+listFrom(f)+` WHERE `+where+
		` AND (`+strings.Join(ranges, ` OR `)+`)`, args...).Scan(dest...)
	return out, err
}

// listFrom is deliveries d, joined to webhooks w when a filter reads them (every delivery has
// its webhook: ON DELETE CASCADE).
func listFrom(f hookd.DeliveryFilter) string {
	if f.HookURI != nil || f.CreatedBy != nil {
		return `deliveries d JOIN webhooks w ON w.id = d.webhook_id`
	}
	return `deliveries d`
}

// maxArms is the most spans a page query walks one by one; a page across more walks one
// range from the first to the last.
const maxArms = 16

// pageIDs returns the query of the page's delivery ids, newest first: where (over listFrom(f),
// its arguments numbered up to n) within the spans that hold the page, with OFFSET $n+1 and
// LIMIT $n+2, and the offset to pass. Whole spans above the page are skipped, and the
// ids between the spans it needs are never read: disjoint spans are walked one after the
// other by a merge of one index range each.
func (p *listPlan) pageIDs(f hookd.DeliveryFilter, where string, n int) (string, int) {
	page := fmt.Sprintf(` ORDER BY d.id DESC OFFSET $%d LIMIT $%d::bigint`, n+1, n+2)
	from := listFrom(f)
	if p == nil || len(p.spans) == 0 {
		return `SELECT d.id FROM ` + from + ` WHERE ` + where + page, f.Offset
	}
	k, skipped := 0, int64(0)
	for k < len(p.spans)-1 && skipped+p.spans[k].n <= int64(f.Offset) {
		skipped += p.spans[k].n
		k++
	}
	j, have := k, p.spans[k].n
	need := int64(f.Offset) - skipped + int64(f.Limit)
	for j < len(p.spans)-1 && (f.Limit == 0 || have < need) {
		j++
		have += p.spans[j].n
	}
	rs := p.spans[k : j+1]
	if len(rs) > maxArms {
		rs = []span{{lo: rs[len(rs)-1].lo, hi: rs[0].hi}}
	}
	offset := f.Offset - int(skipped)
	if len(rs) == 1 {
		return fmt.Sprintf(`SELECT d.id FROM %s WHERE %s AND d.id BETWEEN %d AND %d`, from, where, rs[0].lo, rs[0].hi) +
			page, offset
	}
	arms := make([]string, len(rs))
	for i, r := range rs {
		arms[i] = fmt.Sprintf(`SELECT d.id FROM %s WHERE %s AND d.id BETWEEN %d AND %d`, from, where, r.lo, r.hi)
	}
	return `SELECT d.id FROM (` + strings.Join(arms, ` UNION ALL `) + `) d` + page, offset
}
