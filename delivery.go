package hookd

import (
	"strconv"
	"strings"
	"time"
)

// DeliveryState is where a delivery is in its life; docs/delivery-states.md draws the machine.
type DeliveryState string

// The delivery states.
const (
	DeliveryStatePending   DeliveryState = "pending"   // due, never tried
	DeliveryStateInflight  DeliveryState = "inflight"  // claimed by a worker, leased until LeaseUntil
	DeliveryStateDelivered DeliveryState = "delivered" // a 2xx answer was recorded
	DeliveryStateRetrying  DeliveryState = "retrying"  // last attempt failed; due again at NextAttemptAt
	DeliveryStateFailed    DeliveryState = "failed"    // schedule exhausted, 410, or webhook disabled
	// DeliveryStateHeld waits for its paused webhook to resume (docs/health.md); it is pending
	// again when never attempted, retrying otherwise, with NextAttemptAt unchanged.
	DeliveryStateHeld DeliveryState = "held"
)

// Delivery is one event for one webhook (DocSpace "webhook log" row). The row is also the job:
// the dispatcher claims due deliveries directly.
type Delivery struct {
	ID        int64
	WebhookID int64
	EventID   int64
	Trigger   Trigger
	State     DeliveryState
	CreatedBy string // uuid of the acting user (DocSpace uid); the retrying user for manual retries
	CreatedOn time.Time

	NextAttemptAt time.Time  // when it is due (pending, retrying)
	LeaseUntil    *time.Time // inflight only
	Attempts      int        // attempts recorded so far
	RetryOf       int64      // the delivery this one manually retried, 0 if none
	// OrderingKey is the event's ordering key when the webhook was ordered at fan-out (or at
	// the manual retry), "" otherwise: such a delivery is claimed only when no delivery of the
	// same webhook and key with a lower id is pending, retrying, inflight or held.
	OrderingKey string

	// The DocSpace view of the last attempt.
	Status      int        // HTTP status of the last attempt, 0 = no answer or not tried yet
	DeliveredOn *time.Time // end of the last attempt, answered or not (DocSpace "delivery")
	LastError   string     // why the last attempt failed, "" on success

	// Joined for reading; set by DeliveryGet, DeliveryList and DeliveryClaim.
	Event       *Event   // the event, with its payload
	WebhookName string   // the webhook's current name
	LastAttempt *Attempt // the last attempt with request and response, nil if none (not set by DeliveryClaim)
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID              int64
	DeliveryID      int64
	Number          int // 1 for the first attempt of the delivery
	StartedAt       time.Time
	Duration        time.Duration
	RequestHeaders  map[string][]string // as sent, without Content-Type and Content-Length
	RequestBody     []byte              // the exact body that was signed and sent
	Status          int                 // 0 when no HTTP answer came
	ResponseHeaders map[string][]string
	ResponseBody    []byte // capped at the configured size
	Error           string // transport error or reason of failure, "" on 2xx
}

// Outcome is what an attempt means for its delivery; hookd.Classify decides it.
type Outcome int

// The outcomes of an attempt.
const (
	OutcomeDelivered Outcome = iota + 1 // 2xx: done
	OutcomeRetry                        // failed, try again at NextAttemptAt
	OutcomeFailed                       // failed, give up
)

// AttemptResult is one finished attempt to record with Store.AttemptRecord.
type AttemptResult struct {
	Attempt       Attempt
	ClaimToken    int64 // token of the claim that made the attempt; a stale token records the attempt but leaves the delivery alone
	Outcome       Outcome
	NextAttemptAt time.Time // for OutcomeRetry
	// DisableWebhook, when non-empty, switches the webhook off with this reason (e.g. 410 Gone).
	DisableWebhook string
}

// Claim is a delivery leased to a worker, with all it needs to send it.
type Claim struct {
	Delivery *Delivery // with Event set
	Webhook  *Webhook  // current config, with its secret
	Token    int64     // fencing token to pass back in AttemptResult.ClaimToken
}

// DeliveryClaimParams are the arguments of Store.DeliveryClaim.
type DeliveryClaimParams struct {
	Limit int           // at most this many deliveries
	Lease time.Duration // leased until now+Lease; an expired lease makes the delivery due again
	// SkipWebhooks are webhooks whose deliveries the caller has no room for (their receivers
	// are at the caller's limit): the claim passes over them to the next due deliveries, so
	// that a slow receiver's backlog does not hold the claims of the others.
	SkipWebhooks []int64
}

// DeliveryRetryParams are the arguments of Store.DeliveryRetry.
type DeliveryRetryParams struct {
	IDs       []int64 // deliveries to re-send, in order; duplicates are retried once per occurrence
	CreatedBy string  // the retrying user, recorded on the new deliveries
	// WebhookCreatedBy, when set, skips deliveries of webhooks created by anyone else
	// (non-admin callers).
	WebhookCreatedBy *string
}

// DeliveryFilter selects deliveries for DeliveryList (DocSpace log filters, spec §1.6). Nil and
// zero fields do not filter.
type DeliveryFilter struct {
	DeliveryFrom *time.Time  // DeliveredOn >= value; undelivered rows excluded
	DeliveryTo   *time.Time  // DeliveredOn <= value; undelivered rows excluded
	HookURI      *string     // exact match on the webhook's current URI
	WebhookID    *int64      // configId
	DeliveryID   *int64      // eventId: the delivery (log row) id
	GroupStatus  GroupStatus // status classes; 0 = all
	CreatedBy    *string     // userId: webhooks created by this user
	Trigger      Trigger     // a single trigger; 0 = all
	MaxID        *int64      // only ids <= MaxID: pins a listing while new rows arrive

	Offset int // startIndex
	Limit  int // count; 0 means no limit
}

// GroupStatus is DocSpace's WebhookGroupStatus flags filter, plus hookd's Failed.
type GroupStatus int

// The status classes of the log filter (spec §4.1).
const (
	GroupStatusNotSent GroupStatus = 1
	GroupStatus2xx     GroupStatus = 2
	GroupStatus3xx     GroupStatus = 4
	GroupStatus4xx     GroupStatus = 8
	GroupStatus5xx     GroupStatus = 16
	// GroupStatusFailed is hookd's alias for "the last attempt did not succeed" (no answer, 3xx,
	// 4xx or 5xx; deliveries never tried excluded). It is accepted by name only, never as a
	// number, so that numeric values keep DocSpace's meaning.
	GroupStatusFailed GroupStatus = 1 << 16

	groupStatusDocSpace = GroupStatusNotSent | GroupStatus2xx | GroupStatus3xx | GroupStatus4xx | GroupStatus5xx
)

var groupStatusNames = map[string]GroupStatus{
	"none":      0,
	"notsent":   GroupStatusNotSent,
	"status2xx": GroupStatus2xx,
	"status3xx": GroupStatus3xx,
	"status4xx": GroupStatus4xx,
	"status5xx": GroupStatus5xx,
	"failed":    GroupStatusFailed,
	// hookd conveniences, matching the CLI's --status values.
	"not-sent": GroupStatusNotSent,
	"2xx":      GroupStatus2xx,
	"3xx":      GroupStatus3xx,
	"4xx":      GroupStatus4xx,
	"5xx":      GroupStatus5xx,
}

// ParseGroupStatus reads a groupStatus query value: a number that combines the DocSpace bits
// (1, 2, 4, 8, 16), a member name (case-insensitive), or a comma-separated list of names.
func ParseGroupStatus(s string) (GroupStatus, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || GroupStatus(n)&^groupStatusDocSpace != 0 {
			return 0, Errorf(EINVALID, "The value '%s' is not valid for groupStatus: use a sum of 1 (NotSent), 2 (2xx), 4 (3xx), 8 (4xx), 16 (5xx), or the name Failed.", s)
		}
		return GroupStatus(n), nil
	}
	var g GroupStatus
	for _, part := range strings.Split(s, ",") {
		v, ok := groupStatusNames[strings.ToLower(strings.TrimSpace(part))]
		if !ok {
			return 0, Errorf(EINVALID, "The value '%s' is not valid for groupStatus: use NotSent, Status2xx, Status3xx, Status4xx, Status5xx, Failed, or their numeric sum.", s)
		}
		g |= v
	}
	return g, nil
}

// StatusClasses are the status classes the stores count deliveries by (their listing counts),
// one status of each, in class order: class 2i+1 is StatusClasses[i] attempted, 2i never
// attempted. Within a class Includes gives one answer, so counts per class are exact.
var StatusClasses = [6]int{0, 100, 200, 300, 400, 500}

// Classes returns the status classes (see StatusClasses) whose deliveries g selects.
func (g GroupStatus) Classes() []int {
	var out []int
	for i, status := range StatusClasses {
		for attempted := range 2 {
			if g.Includes(status, attempted) {
				out = append(out, 2*i+attempted)
			}
		}
	}
	return out
}

// Includes reports whether a delivery with this last status and attempt count falls in g.
// It is the reference for the SQL each store writes; storetest checks the two agree.
func (g GroupStatus) Includes(status, attempts int) bool {
	if g == 0 {
		return true
	}
	if g&GroupStatusFailed != 0 && attempts > 0 && (status < 200 || status >= 300) {
		return true
	}
	switch {
	case status == 0:
		return g&GroupStatusNotSent != 0
	case status >= 200 && status < 300:
		return g&GroupStatus2xx != 0
	case status >= 300 && status < 400:
		return g&GroupStatus3xx != 0
	case status >= 400 && status < 500:
		return g&GroupStatus4xx != 0
	case status >= 500:
		return g&GroupStatus5xx != 0
	}
	return g&groupStatusDocSpace != 0 // 1..199: never dropped by DocSpace's rules
}
