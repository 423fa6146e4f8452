package client

import (
	"context"
	"fmt"
	"iter"
)

// MaxPageSize is the largest page the log route serves (DocSpace's count limit).
const MaxPageSize = 100

// DeliveryPager walks every delivery matching a filter, newest first, each exactly once, while
// new deliveries keep arriving at the top of the log.
//
// Paging by offset alone repeats or skips rows when the log grows between pages. The pager
// pins the walk to the deliveries that existed at its first page: against hookd (whose rows
// carry a state) each next page asks for ids below the last one seen (maxId), which no
// insertion or status change can shift. Against a server that ignores maxId (DocSpace) it
// pages by startIndex, moves the offset by the growth of total since the first page (new rows
// appear at the top), and drops ids it has already returned; there each delivery still comes
// once, but a stretch skipped by a wrong guess of the arrival rate is read late, out of order.
type DeliveryPager struct {
	c       *Client
	f       DeliveryFilter
	size    int
	seen    map[int64]struct{}
	keyset  bool  // pages are pinned by maxId
	started bool  // the first page was read
	done    bool  // nothing more to read
	minID   int64 // smallest id seen: the keyset cursor
	maxID   int64 // largest id of the first page: the pin
	pos     int   // offset mode: position, in the log as it was at the first page, after the rows read
	total0  int64 // total at the first page
	total   int64 // total at the latest page
	stale   int   // pages in a row without a new row
	rate    int   // offset mode: rows that arrived between the last two requests
	gap     bool  // offset mode: the last page started past the cursor
}

// maxStalePages ends a walk that makes no progress: offset paging against a log that grows by
// more than a page between two requests.
const maxStalePages = 20

// DeliveryPager returns a pager over the deliveries matching f. f.Count sets the page size
// (default and maximum 100); f.StartIndex skips rows on the first page only; f.MaxID, when
// set, pins the walk to ids at or below it from the start.
func (c *Client) DeliveryPager(f DeliveryFilter) *DeliveryPager {
	size := f.Count
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	return &DeliveryPager{c: c, f: f, size: size, seen: map[int64]struct{}{}, total0: -1, total: -1}
}

// Total is the number of matching deliveries when the walk started, -1 before the first page
// or when the server does not say.
func (p *DeliveryPager) Total() int64 { return p.total0 }

// MaxID is the id the walk is pinned to: no delivery above it is returned. 0 before the first
// page.
func (p *DeliveryPager) MaxID() int64 { return p.maxID }

// Next returns the next page of deliveries not returned before; an empty page with a nil
// error means the walk is over.
func (p *DeliveryPager) Next(ctx context.Context) ([]*Delivery, error) {
	for !p.done {
		page, err := p.fetch(ctx)
		if err != nil {
			return nil, err
		}
		if len(page) > 0 {
			return page, nil
		}
	}
	return nil, nil
}

// fetch reads one page from the server and returns its rows not seen before (possibly none).
func (p *DeliveryPager) fetch(ctx context.Context) ([]*Delivery, error) {
	f := p.f
	f.Count = p.size
	if p.started {
		if p.keyset {
			if p.minID <= 1 {
				p.done = true
				return nil, nil
			}
			f.StartIndex, f.MaxID = 0, p.minID-1
		} else {
			// Rows that arrived since the first page sit above the cursor and push it down
			// by the growth of total; those that will arrive before this request are
			// guessed from the last step.
			f.StartIndex, f.MaxID = max(0, p.pos+p.growth()+p.rate), p.maxID
		}
	}
	res, err := p.c.Deliveries(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read deliveries from index %d: %w", f.StartIndex, err)
	}
	rows := res.Deliveries
	prevGrowth := p.growth()
	if res.Total >= 0 {
		p.total = res.Total
	}
	switch {
	case !p.started:
		p.started = true
		p.total0, p.total = res.Total, res.Total
		p.pos = f.StartIndex + len(rows)
		p.maxID = f.MaxID
		for _, d := range rows {
			if f.MaxID == 0 {
				p.maxID = max(p.maxID, d.ID)
			}
			p.keyset = p.keyset || d.State != ""
		}
	case p.keyset:
		for _, d := range rows {
			if d.ID > f.MaxID {
				// The server ignores maxId after all: drop this page and page by offset
				// after the rows of the first page.
				p.keyset = false
				return nil, nil
			}
		}
	default:
		// Where this page sat in the log as it was at the first page: the answer's total
		// says how many rows had arrived by the time of the request.
		at := f.StartIndex - p.growth()
		p.rate = max(0, p.growth()-prevGrowth)
		if at > p.pos {
			// The guess overshot and rows in between were not read: keep the cursor so
			// that the next page reads them (the rows of this page are not lost either).
			p.gap = true
		} else {
			p.gap = false
			p.pos = max(p.pos, at+len(rows))
		}
	}
	if len(rows) < p.size && !p.gap {
		p.done = true // only a short page ends the walk: total lags the rows still arriving
	}
	return p.keep(rows)
}

// keep records rows as seen and returns those not returned before; it ends a walk that makes
// no progress.
func (p *DeliveryPager) keep(rows []*Delivery) ([]*Delivery, error) {
	var fresh []*Delivery
	for _, d := range rows {
		if p.minID == 0 || d.ID < p.minID {
			p.minID = d.ID
		}
		if _, dup := p.seen[d.ID]; dup || (p.maxID > 0 && d.ID > p.maxID) {
			continue
		}
		p.seen[d.ID] = struct{}{}
		fresh = append(fresh, d)
	}
	if len(fresh) == 0 && !p.done {
		p.stale++
		if p.stale >= maxStalePages {
			return nil, fmt.Errorf("read deliveries: %d pages in a row held only rows already seen: the log grows faster than it can be paged", p.stale)
		}
	} else {
		p.stale = 0
	}
	return fresh, nil
}

// growth is how much total changed between the first page and the latest.
func (p *DeliveryPager) growth() int {
	if p.total0 < 0 || p.total < 0 {
		return 0
	}
	return int(p.total - p.total0)
}

// AllDeliveries iterates over every delivery matching f, newest first, each once (see
// DeliveryPager). The iteration stops at the first error, which it yields with a nil
// delivery.
func (c *Client) AllDeliveries(ctx context.Context, f DeliveryFilter) iter.Seq2[*Delivery, error] {
	return func(yield func(*Delivery, error) bool) {
		p := c.DeliveryPager(f)
		for {
			page, err := p.Next(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			if len(page) == 0 {
				return
			}
			for _, d := range page {
				if !yield(d, nil) {
					return
				}
			}
		}
	}
}
