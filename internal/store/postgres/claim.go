package postgres

import (
	"context"
	"errors"
	"math/bits"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// claimSQL is the statement that leases due deliveries. The CTE walks deliveries_due in
// (next_attempt_at, id) order and locks the rows it keeps with FOR UPDATE SKIP LOCKED, so
// concurrent claimers (other goroutines, other nodes) pass over each other's rows instead of
// waiting or taking them twice; the UPDATE moves them in flight and bumps the fencing token. A row is due when it
// waits (pending or retrying) and its time has come, or when it is in flight on a lease that
// has run out (the claimer died or stalled). An inflight row was due when it was claimed and
// a claim leaves next_attempt_at alone, so next_attempt_at <= now holds for every due row: it
// bounds the index walk. Oldest due means by next_attempt_at, as in the SQLite store.
//
// Held deliveries are not in deliveries_due: never claimed. A delivery with an ordering key is
// taken only when no earlier one of its webhook and key is still to go (one probe of
// deliveries_open). The check reads the statement's snapshot, in which a row another claimer
// holds is still at least pending: a second node skips the head the first is claiming (SKIP
// LOCKED) and finds it blocking the next one, before and after the first commits, so a key
// never has two deliveries in flight; and within one call the head blocks its successors, so
// at most one of a key is claimed. Deliveries of the webhooks in $3 (SkipWebhooks) are passed
// over.
//
// The statement comes in a few texts (claimSQL), because of PostgreSQL's plan cache. Planning
// it took 0.4 ms of the 1.3 ms of server time of a claim of 25, for the same plan every time,
// but with LIMIT $n the generic plan cannot know the batch is small: it sorts and hash-joins
// the whole backlog, so PostgreSQL plans every call. With a constant bound on the rows it
// locks, the generic plan is the custom one and is reused. The bound is the limit rounded up
// to a power of two (claimBounded): nine texts, not one per limit (each is prepared and kept
// on every connection, about 300 kB each); the rows past the limit stay locked only until the
// statement ends, and other claimers pass over them meanwhile as over any locked row. An
// unknown array of webhooks to skip misleads the generic plan the same way (with one webhook
// every row seems skipped), so claims that skip webhooks, like limits past the largest bound,
// are planned each time.
func claimSQL(bound, limit string, skip bool) string {
	skipCond := ""
	if skip {
		skipCond = "AND d.webhook_id <> ALL($3::bigint[])"
	}
	return `WITH due AS (
		SELECT d.id, d.next_attempt_at FROM deliveries d
		WHERE d.state IN ('pending', 'retrying', 'inflight') AND d.next_attempt_at <= $1
			AND (d.state <> 'inflight' OR d.lease_until < $1)
			AND ` + unblocked + `
			` + skipCond + `
		ORDER BY d.next_attempt_at, d.id
		LIMIT ` + bound + `
		FOR UPDATE SKIP LOCKED
	), taken AS (
		SELECT id FROM due ORDER BY next_attempt_at, id LIMIT ` + limit + `
	), claimed AS (
		UPDATE deliveries d SET state = 'inflight', lease_until = $2, claim_token = d.claim_token + 1
		FROM taken WHERE d.id = taken.id
		RETURNING d.*
	)
	SELECT ` + deliveryCols + `, d.claim_token, ` + eventCols + `, ` + webhookCols + `
	FROM claimed d
	JOIN events e ON e.id = d.event_id
	JOIN webhooks w ON w.id = d.webhook_id
	ORDER BY d.next_attempt_at, d.id`
}

// claimBoundedMax is the largest bound written into the claim's text: four times the default
// concurrency, the most claims the worker holds by default (four per sender).
const claimBoundedMax = 256

// claimBounded are the claims without webhooks to skip that lock at most 1<<i rows
// (claimBounded[i]) and claim $3 of them; claimSkipSQL skips webhooks ($3) and claims up to
// $4, claimAnySQL claims up to $3.
var (
	claimBounded = claimBoundedSQLs()
	claimSkipSQL = claimSQL("$4", "$4", true)
	claimAnySQL  = claimSQL("$3", "$3", false)
)

func claimBoundedSQLs() []string {
	var qs []string
	for b := 1; b <= claimBoundedMax; b *= 2 {
		qs = append(qs, claimSQL(strconv.Itoa(b), "$3", false))
	}
	return qs
}

// unblocked is true for a delivery d that its ordering key lets go: no key, or no earlier
// delivery of its webhook and key still to go.
const unblocked = `(d.ordering_key = '' OR NOT EXISTS (SELECT 1 FROM deliveries o
		WHERE o.webhook_id = d.webhook_id AND o.ordering_key = d.ordering_key AND o.id < d.id
			AND o.state IN ('pending', 'retrying', 'inflight', 'held')))`

// DeliveryClaim leases up to p.Limit due deliveries until now+p.Lease, oldest due first, with
// their event and current webhook.
func (s *Store) DeliveryClaim(ctx context.Context, p *hookd.DeliveryClaimParams) ([]*hookd.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.Lease <= 0 {
		return nil, hookd.Errorf(hookd.EINVALID, "The claim lease must be positive.")
	}
	now := s.now()
	lease := now.Add(p.Lease).Truncate(time.Microsecond)
	var (
		rows pgx.Rows
		err  error
	)
	switch {
	case len(p.SkipWebhooks) > 0:
		rows, err = s.pool.Query(ctx, claimSkipSQL, now, lease, p.SkipWebhooks, p.Limit)
	case p.Limit <= claimBoundedMax:
		rows, err = s.pool.Query(ctx, claimBounded[bits.Len(uint(p.Limit-1))], now, lease, p.Limit)
	default:
		rows, err = s.pool.Query(ctx, claimAnySQL, now, lease, p.Limit)
	}
	if err != nil {
		return nil, formatError("claim deliveries", err)
	}
	claims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Claim, error) {
		var (
			c  = &hookd.Claim{Delivery: &hookd.Delivery{}, Webhook: &hookd.Webhook{}}
			es eventScan
		)
		dest := append(deliveryDest(c.Delivery), &c.Token)
		dest = append(dest, es.dest()...)
		if err := r.Scan(append(dest, webhookDest(c.Webhook)...)...); err != nil {
			return nil, err
		}
		fixDelivery(c.Delivery)
		fixWebhook(c.Webhook)
		c.Webhook.LastStatus = 0
		c.Delivery.Event = es.event()
		c.Delivery.WebhookName = c.Webhook.Name
		return c, nil
	})
	if err != nil {
		return nil, formatError("claim deliveries", err)
	}
	return claims, nil
}

// DeliveryNextDue returns when the earliest pending or retrying delivery comes due, or the
// zero time when none is waiting. Deliveries their ordering key blocks are passed over: they
// come due with their key's head, which is waiting itself (or in flight, and then its
// record wakes the dispatcher); counting them would have the dispatcher poll for claims it
// cannot make.
func (s *Store) DeliveryNextDue(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT d.next_attempt_at FROM deliveries d
		WHERE d.state IN ('pending', 'retrying') AND `+unblocked+`
		ORDER BY d.next_attempt_at LIMIT 1`).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, formatError("next due delivery", err)
	}
	return t.UTC(), nil
}

// DeliveryRelease puts deliveries still held by these claims back to waiting (pending when
// never tried, else retrying), due at their old time, without recording an attempt. Claims
// whose token no longer holds are left alone.
func (s *Store) DeliveryRelease(ctx context.Context, claims []*hookd.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(claims))
	tokens := make([]int64, 0, len(claims))
	for _, c := range claims {
		if c != nil && c.Delivery != nil {
			ids = append(ids, c.Delivery.ID)
			tokens = append(tokens, c.Token)
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock in id order, as AttemptRecord does, so that the two cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT id FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE deliveries d
			SET state = CASE WHEN d.attempts = 0 THEN 'pending' ELSE 'retrying' END, lease_until = NULL
			FROM unnest($1::bigint[], $2::bigint[]) AS c(id, token)
			WHERE d.id = c.id AND d.claim_token = c.token AND d.state = 'inflight'`, ids, tokens)
		return err
	})
	if err != nil {
		return formatError("release deliveries", err)
	}
	return nil
}
