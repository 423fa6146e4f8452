package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// The log listing at millions of deliveries. DeliveryList's total is exact, and counting the
// matches of a filter row by row is what made large listings slow: the totals come from
// delivery_counts (migration 006), kept by triggers per hour of delivered_on, webhook,
// trigger and status class. Only what the counters cannot answer is counted row by row: the
// deliveries of the two partial hours at the edges of a date range, the ones newer than
// MaxID, a single DeliveryID. The counters also say which status classes have deliveries at
// all and between which ids the matches lie, which the page query uses.

// classSQL is the status class of delivery d, exactly as delivery_counts and the index
// deliveries_webhook_class compute it (006_listing.sql): keep the three identical.
const classSQL = `(CASE WHEN d.status = 0 THEN 0 WHEN d.status BETWEEN 200 AND 299 THEN 4 WHEN d.status BETWEEN 300 AND 399 THEN 6
        WHEN d.status BETWEEN 400 AND 499 THEN 8 WHEN d.status >= 500 THEN 10 ELSE 2 END + (d.attempts > 0))`

const (
	hourMicros  = 3_600_000_000        // the width of a delivery_counts bucket
	neverBucket = -4611686018427387904 // the bucket of deliveries never attempted
)

// listPlan is what the counters say about a filter.
type listPlan struct {
	total   int64
	classes []int // the classes that may have matches, for a per-class page
	lo, hi  int64 // the matches' ids lie between lo and hi
	// spans, for a date range: disjoint id ranges, highest first, that hold every match.
	// Deliveries of one hour have close ids, but a webhook whose deliveries were published
	// together and answered over days (a retry backlog) spreads its ids over every hour: the
	// spans let a page skip the ids between, which belong to hours outside the range.
	spans [][2]int64
}

// maxSpans is the most id ranges a page query walks, one compound arm each.
const maxSpans = 16

// mergeSpans merges id ranges sorted by their start into at most most disjoint ranges,
// highest first, closing the smallest gaps first.
func mergeSpans(in [][2]int64, most int) [][2]int64 {
	var spans [][2]int64
	for _, sp := range in {
		if n := len(spans); n > 0 && sp[0] <= spans[n-1][1]+1 {
			spans[n-1][1] = max(spans[n-1][1], sp[1])
		} else {
			spans = append(spans, sp)
		}
	}
	if len(spans) > most {
		gaps := make([]int64, len(spans)-1)
		for i := range gaps {
			gaps[i] = spans[i+1][0] - spans[i][1]
		}
		sorted := slices.Clone(gaps)
		slices.Sort(sorted)
		limit := sorted[len(spans)-most-1] // gaps up to this close
		merged := spans[:1]
		for i, g := range gaps {
			if g <= limit && len(merged)+len(spans)-i-1 > most {
				merged[len(merged)-1][1] = spans[i+1][1]
			} else {
				merged = append(merged, spans[i+1])
			}
		}
		spans = merged
	}
	slices.Reverse(spans)
	return spans
}

// clampSpans drops the ids above maxID from spans (highest first).
func clampSpans(spans [][2]int64, maxID int64) [][2]int64 {
	out := spans[:0]
	for _, sp := range spans {
		if sp[0] <= maxID {
			out = append(out, [2]int64{sp[0], min(sp[1], maxID)})
		}
	}
	return out
}

// planList counts the matches of f from the counters, in the read transaction tx; false when
// the counters cannot answer f (a DeliveryID, or a date range before 1970).
func planList(ctx context.Context, tx *sql.Tx, f hookd.DeliveryFilter) (*listPlan, bool, error) {
	from, to := f.DeliveryFrom, f.DeliveryTo
	if f.DeliveryID != nil || (from != nil && micros(*from) < 0) || (to != nil && micros(*to) < hourMicros) {
		return nil, false, nil
	}
	if from != nil && to != nil && from.After(*to) {
		return &listPlan{lo: 1, hi: -1}, true, nil
	}
	var fromB, toB int64 // the edge buckets; counted row by row, the ones between from the counters
	conds := []string{`c.bucket > ` + fmt.Sprint(neverBucket)}
	if from != nil {
		fromB = micros(*from) / hourMicros
		conds = append(conds, fmt.Sprintf(`c.bucket >= %d`, fromB))
	}
	if to != nil {
		toB = micros(*to) / hourMicros
		conds = append(conds, fmt.Sprintf(`c.bucket <= %d`, toB))
	}
	if from == nil && to == nil {
		conds = conds[:0]
	}
	inner := `1`
	if from != nil && to != nil {
		inner = fmt.Sprintf(`c.bucket > %d AND c.bucket < %d`, fromB, toB)
	} else if from != nil {
		inner = fmt.Sprintf(`c.bucket > %d`, fromB)
	} else if to != nil {
		inner = fmt.Sprintf(`c.bucket < %d`, toB)
	}
	join, where, args := countsWhere(f, conds)
	var p *listPlan
	var err error
	if from != nil || to != nil {
		p, err = planRange(ctx, tx, inner, join, where, args)
	} else {
		p, err = planClasses(ctx, tx, join, where, args)
	}
	if err != nil {
		return nil, false, err
	}
	// The partial hours at the edges of the range, row by row.
	for _, edge := range edgeRanges(f, fromB, toB) {
		g := f
		g.DeliveryFrom, g.DeliveryTo, g.MaxID = &edge[0], &edge[1], nil
		n, err := countRows(ctx, tx, g, "")
		if err != nil {
			return nil, false, err
		}
		p.total += n
	}
	if f.MaxID != nil {
		// Counted above whatever their id: take back the newer ones, few when MaxID pins a
		// listing that new deliveries have since passed.
		g := f
		g.MaxID = nil
		n, err := countRows(ctx, tx, g, fmt.Sprintf(`d.id > %d`, *f.MaxID))
		if err != nil {
			return nil, false, err
		}
		p.total -= n
		p.hi = min(p.hi, *f.MaxID)
		p.spans = clampSpans(p.spans, *f.MaxID)
	}
	return p, true, nil
}

// planClasses sums the counter rows that match (join, where and args from countsWhere) per
// status class.
func planClasses(ctx context.Context, tx *sql.Tx, join, where string, args []any) (*listPlan, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.class, SUM(c.n), MIN(c.lo), MAX(c.hi)
		FROM delivery_counts c`+join+where+` GROUP BY c.class`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &listPlan{lo: 1, hi: -1}
	for rows.Next() {
		var class int
		var n, lo, hi int64
		if err := rows.Scan(&class, &n, &lo, &hi); err != nil {
			return nil, err
		}
		p.add(class, n, n, lo, hi)
	}
	return p, rows.Err()
}

// planRange reads the counter rows of a date range once, in id order, for both the sums per
// class (counting a row only when inner, the hours strictly inside the range) and the id
// spans: one pass over the rows instead of a GROUP BY and a sort of the same rows.
func planRange(ctx context.Context, tx *sql.Tx, inner, join, where string, args []any) (*listPlan, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.class, `+inner+`, c.n, c.lo, c.hi FROM delivery_counts c`+join+
		andWhere(where, `c.n > 0`)+` ORDER BY c.lo`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &listPlan{lo: 1, hi: -1}
	var spans [][2]int64
	for rows.Next() {
		var class int
		var in bool
		var n, lo, hi int64
		if err := rows.Scan(&class, &in, &n, &lo, &hi); err != nil {
			return nil, err
		}
		inside := int64(0)
		if in {
			inside = n
		}
		p.add(class, inside, n, lo, hi)
		spans = append(spans, [2]int64{lo, hi})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(p.classes)
	p.spans = mergeSpans(spans, maxSpans)
	return p, nil
}

// add counts a class's counter rows: inside of all of its deliveries match, between ids lo
// and hi. A class without deliveries is left out.
func (p *listPlan) add(class int, inside, all, lo, hi int64) {
	if all <= 0 {
		return
	}
	p.total += inside
	if !slices.Contains(p.classes, class) {
		p.classes = append(p.classes, class)
	}
	if p.hi < p.lo || lo < p.lo {
		p.lo = lo
	}
	p.hi = max(p.hi, hi)
}

// edgeRanges returns the parts of f's date range that fall in its first and last hour
// buckets, which the counters hold only whole.
func edgeRanges(f hookd.DeliveryFilter, fromB, toB int64) [][2]time.Time {
	from, to := f.DeliveryFrom, f.DeliveryTo
	switch {
	case from != nil && to != nil && fromB == toB:
		return [][2]time.Time{{*from, *to}}
	case from != nil && to != nil:
		return [][2]time.Time{{*from, fromMicros((fromB+1)*hourMicros - 1)}, {fromMicros(toB * hourMicros), *to}}
	case from != nil:
		return [][2]time.Time{{*from, fromMicros((fromB+1)*hourMicros - 1)}}
	case to != nil:
		return [][2]time.Time{{fromMicros(toB * hourMicros), *to}}
	}
	return nil
}

// countsWhere returns the join and WHERE of delivery_counts c for f's webhook, trigger and
// status filters, with conds, and their arguments.
func countsWhere(f hookd.DeliveryFilter, conds []string) (string, string, []any) {
	var args []any
	join := ""
	if f.HookURI != nil || f.CreatedBy != nil {
		join = ` JOIN webhooks w ON w.id = c.webhook_id`
	}
	if f.GroupStatus != 0 {
		conds = append(conds, `c.class IN (`+joinInts(f.GroupStatus.Classes())+`)`)
	}
	for _, c := range []struct {
		set  bool
		cond string
		arg  func() any
	}{
		{f.WebhookID != nil, `c.webhook_id = ?`, func() any { return *f.WebhookID }},
		{f.Trigger != 0, `c.trigger_id = ?`, func() any { return int64(f.Trigger) }},
		{f.HookURI != nil, `w.uri = ?`, func() any { return *f.HookURI }},
		{f.CreatedBy != nil, `w.created_by = ?`, func() any { return *f.CreatedBy }},
	} {
		if c.set {
			conds = append(conds, c.cond)
			args = append(args, c.arg())
		}
	}
	if len(conds) == 0 {
		return join, "", args
	}
	return join, ` WHERE ` + strings.Join(conds, ` AND `), args
}

// joinInts writes ints as a comma-separated SQL list.
func joinInts(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

// listFrom is the FROM of the listing's own queries: deliveries (with hint, an INDEXED BY),
// and webhooks when a filter needs them (every delivery has its webhook: ON DELETE CASCADE).
func listFrom(f hookd.DeliveryFilter, hint string) string {
	if f.HookURI != nil || f.CreatedBy != nil {
		return ` FROM deliveries d` + hint + ` JOIN webhooks w ON w.id = d.webhook_id`
	}
	return ` FROM deliveries d` + hint
}

// countRows counts the matches of f (and of extra, if not empty) row by row.
func countRows(ctx context.Context, tx *sql.Tx, f hookd.DeliveryFilter, extra string) (int64, error) {
	where, args := deliveryWhere(f)
	where = andWhere(where, extra)
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+listFrom(f, "")+where, args...).Scan(&n)
	return n, err
}

// andWhere adds cond (if not empty) to a WHERE clause (possibly empty).
func andWhere(where, cond string) string {
	switch {
	case cond == "":
		return where
	case where == "":
		return ` WHERE ` + cond
	}
	return where + ` AND ` + cond
}

// pageIDs returns the query of the page's delivery ids, newest first, and its arguments
// (LIMIT and OFFSET last). With a plan, the ids walked lie between its bounds; with a
// webhook, each status class of the plan is one range of deliveries_webhook_class, in id
// order, several merged by a compound ORDER BY. A date range whose matches are sparse among
// those ids reads deliveries_delivered_on and sorts its matches instead (pageByDate).
func pageIDs(f hookd.DeliveryFilter, p *listPlan, limit int64) (string, []any) {
	page := ` ORDER BY d.id DESC LIMIT ? OFFSET ?`
	if p != nil && (f.DeliveryFrom != nil || f.DeliveryTo != nil) && pageByDate(p, f.Offset, limit) {
		where, args := deliveryWhere(f)
		return `SELECT d.id` + listFrom(f, ` INDEXED BY deliveries_delivered_on`) + where + page, append(args, limit, f.Offset)
	}
	g := f
	arms := p != nil && f.WebhookID != nil && len(p.classes) > 0
	if arms {
		g.GroupStatus = 0 // the class arms select it, from the index alone
	}
	where, args := deliveryWhere(g)
	if p != nil {
		where = andWhere(where, fmt.Sprintf(`d.id BETWEEN %d AND %d`, p.lo, p.hi))
	}
	from := listFrom(f, "")
	if !arms && p != nil && len(p.spans) > 1 {
		// Disjoint spans, highest first: the compound walks them one after the other.
		queries := make([]string, len(p.spans))
		var all []any
		for i, sp := range p.spans {
			queries[i] = `SELECT d.id AS id` + from + andWhere(where, fmt.Sprintf(`d.id BETWEEN %d AND %d`, sp[0], sp[1]))
			all = append(all, args...)
		}
		return strings.Join(queries, ` UNION ALL `) + ` ORDER BY id DESC LIMIT ? OFFSET ?`, append(all, limit, f.Offset)
	}
	if !arms {
		return `SELECT d.id` + from + where + page, append(args, limit, f.Offset)
	}
	if len(p.classes) == 1 {
		return `SELECT d.id` + from + andWhere(where, fmt.Sprintf(classSQL+` = %d`, p.classes[0])) + page,
			append(args, limit, f.Offset)
	}
	queries := make([]string, len(p.classes))
	var all []any
	for i, class := range p.classes {
		queries[i] = `SELECT d.id AS id` + from + andWhere(where, fmt.Sprintf(classSQL+` = %d`, class))
		all = append(all, args...)
	}
	return strings.Join(queries, ` UNION ALL `) + ` ORDER BY id DESC LIMIT ? OFFSET ?`, append(all, limit, f.Offset)
}

// pageByDate reports whether a page of a date range is cheaper from the date index: walking
// ids down from p.hi meets a match about every (hi-lo+1)/total ids until the page is full,
// while the date index reads every match once (and sorts them).
func pageByDate(p *listPlan, offset int, limit int64) bool {
	need := p.total
	if limit >= 0 {
		need = min(need, int64(offset)+limit)
	}
	ids := p.hi - p.lo + 1
	if len(p.spans) > 0 {
		ids = 0
		for _, sp := range p.spans {
			ids += sp[1] - sp[0] + 1
		}
	}
	walk := float64(need) * float64(ids) / float64(max(p.total, 1))
	return float64(p.total) < walk
}
