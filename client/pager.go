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
// appear at the top), and drops ids it has already returned.
type DeliveryPager struct {
	c        *Client
	f        DeliveryFilter
	size     int
	seen     map[int64]struct{}
	keyset   bool  // pages are pinned by maxId
	started  bool  // the first page was read
	done     bool  // nothing more to read
	minID    int64 // smallest id seen: the keyset cursor
	maxID    int64 // largest id of the first page: the pin
	consumed int   // rows the server returned in offset mode, duplicates included
	total0   int64 // total at the first page
	total    int64 // total at the latest page
}

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
			f.StartIndex, f.MaxID = p.nextOffset(), p.maxID
		}
	}
	res, err := p.c.Deliveries(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read deliveries from index %d: %w", f.StartIndex, err)
	}
	rows := res.Deliveries
	if p.started && p.keyset {
		for _, d := range rows {
			if d.ID > f.MaxID {
				// The server ignores maxId after all: drop this page and page by offset,
				// after the rows seen so far.
				p.keyset = false
				p.consumed = len(p.seen)
				return nil, nil
			}
		}
	}
	if !p.started {
		p.started = true
		p.total0 = res.Total
		p.maxID = f.MaxID
		for _, d := range rows {
			if f.MaxID == 0 {
				p.maxID = max(p.maxID, d.ID)
			}
			p.keyset = p.keyset || d.State != ""
		}
	}
	if res.Total >= 0 {
		p.total = res.Total
	}
	p.consumed += len(rows)
	if len(rows) < p.size || (!p.keyset && p.total >= 0 && int64(p.nextOffset()) >= p.total) {
		p.done = true
	}
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
	return fresh, nil
}

// nextOffset is the startIndex of the next page in offset mode. Rows added since the first
// page sit above the cursor and push it down; rows that left the filter pull it up. Moving
// back too far only re-reads rows, which fetch drops; moving forward too far would skip, so
// only the change of total, which new rows at the top explain exactly, moves it.
func (p *DeliveryPager) nextOffset() int {
	growth := int64(0)
	if p.total0 >= 0 && p.total >= 0 {
		growth = p.total - p.total0
	}
	return max(0, p.f.StartIndex+p.consumed+int(growth))
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
