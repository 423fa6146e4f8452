package webui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// historyPage is the data of the delivery history, of one webhook or of all.
type historyPage struct {
	base
	Webhook     *hookd.Webhook   // the webhook of a per-webhook history, nil for all
	Webhooks    []*hookd.Webhook // choices of the webhook filter in the history of all
	Filter      historyFilter
	Chips       []chipView
	Triggers    []hookd.TriggerInfo
	Rows        []historyRow
	Total       int64
	Page, Pages int
	PrevURL     string
	NextURL     string
	NewestURL   string // the first page without maxId, when the listing is pinned
	SelfURL     string // the first page of this view, to show newer deliveries
	ClearURL    string
	FilterError string
	Filtered    bool
	Action      string // the path of this history
	Return      string // where a retry from this page comes back to
	LiveURL     string // the endpoint the script polls
}

type chipView struct {
	chip
	On bool
}

// historyRow is one delivery of the history.
type historyRow struct {
	*hookd.Delivery
	Badge badge
	Live  bool // may still change: the script polls it
	New   bool // created by the retry that led here
}

// handleHistory shows one page of deliveries, newest first, filtered as the URL says.
func (u *UI) handleHistory(w http.ResponseWriter, r *http.Request, s *session) error {
	p, webhookID, err := u.newHistoryPage(r, s)
	if err != nil {
		return err
	}
	f, err := parseHistoryFilter(r.URL.Query())
	p.setFilter(f)
	if err != nil {
		if hookd.ErrorCode(err) != hookd.EINVALID {
			return err
		}
		p.FilterError = hookd.ErrorMessage(err)
		u.render(w, r, http.StatusBadRequest, "history", p)
		return nil
	}
	rows, total, err := u.store.DeliveryList(r.Context(), f.storeFilter(s.key, webhookID))
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	for _, d := range rows {
		p.Rows = append(p.Rows, historyRow{Delivery: d, Badge: deliveryBadge(d), Live: live(d.State), New: s.flash.isNew(d.ID)})
	}
	p.setPaging(f, total, rows, webhookID)
	u.render(w, r, http.StatusOK, "history", p)
	return nil
}

// newHistoryPage starts the page of the history of all the key's deliveries, or of one
// webhook's when the path names it (then the key must be allowed to manage it).
func (u *UI) newHistoryPage(r *http.Request, s *session) (*historyPage, int64, error) {
	p := &historyPage{base: newBase(s, "History", "history"), Action: "/history", Page: 1, Pages: 1, Triggers: hookd.Triggers[1:]}
	if r.PathValue("id") == "" {
		hooks, err := u.visibleWebhooks(r.Context(), s.key)
		p.Webhooks = hooks
		return p, 0, err
	}
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return nil, 0, err
	}
	p.Webhook, p.Action = hook, fmt.Sprintf("/webhooks/%d/history", hook.ID)
	p.Title, p.Nav = hook.Name+" · History", "webhooks"
	return p, hook.ID, nil
}

// setFilter shows the filter in the form and in the page's links.
func (p *historyPage) setFilter(f historyFilter) {
	p.Filter, p.Filtered = f, f.active()
	for _, c := range statusChips {
		p.Chips = append(p.Chips, chipView{chip: c, On: f.has(c.Value)})
	}
	p.ClearURL = p.Action
	p.SelfURL = withQuery(p.Action, f.values(1, 0))
	p.Return = withQuery(p.Action, f.keptAfterRetry())
}

// setPaging fills the pager and the live endpoint. The next pages are pinned to the newest
// delivery of the first, so that new deliveries do not shift them; only the first page asks
// the live endpoint whether newer deliveries arrived.
func (p *historyPage) setPaging(f historyFilter, total int64, rows []*hookd.Delivery, webhookID int64) {
	p.Total = total
	p.Page, p.Pages = f.Page, max(1, int((total+pageSize-1)/pageSize))
	maxID := f.MaxID
	if maxID == 0 && len(rows) > 0 && f.Page == 1 {
		maxID = rows[0].ID
	}
	if f.Page > 1 {
		p.PrevURL = withQuery(p.Action, f.values(f.Page-1, maxID))
	}
	if f.Page < p.Pages {
		p.NextURL = withQuery(p.Action, f.values(f.Page+1, maxID))
	}
	if f.MaxID != 0 {
		p.NewestURL = withQuery(p.Action, f.values(1, 0))
	}
	q := url.Values{}
	if f.Page == 1 && f.MaxID == 0 {
		q = f.values(1, 0)
		if webhookID != 0 {
			q.Set("webhook", strconv.FormatInt(webhookID, 10))
		}
		q.Set("since", strconv.FormatInt(maxID, 10))
	}
	p.LiveURL = withQuery("/live", q)
}

// keptAfterRetry is the part of the filter a retry's redirect keeps: the new deliveries are
// pending, so status, date and event id filters would hide them.
func (f historyFilter) keptAfterRetry() url.Values {
	g := historyFilter{Trigger: f.Trigger, Webhook: f.Webhook}
	return g.values(1, 0)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// liveRow is what the script needs to update one row of the history in place.
type liveRow struct {
	ID         int64               `json:"id"`
	State      hookd.DeliveryState `json:"state"`
	StateLabel string              `json:"stateLabel"`
	BadgeClass string              `json:"badgeClass"`
	BadgeText  string              `json:"badgeText"`
	BadgeTitle string              `json:"badgeTitle"`
	Delivery   string              `json:"delivery,omitempty"` // RFC 3339
	Attempts   int                 `json:"attempts"`
	Live       bool                `json:"live"`
}

// liveAnswer is the answer of the live endpoint.
type liveAnswer struct {
	Rows  []liveRow `json:"rows"`
	Newer int       `json:"newer"` // deliveries newer than "since" that match the filter
}

// maxLiveIDs caps the ids of one poll: a history page has pageSize rows.
const maxLiveIDs = 2 * pageSize

// handleLive answers the history's script: the current state of the deliveries it shows that
// may still change, and how many newer deliveries match the page's filter. Deliveries the key
// may not see are left out, as if they did not exist.
func (u *UI) handleLive(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	out := liveAnswer{Rows: []liveRow{}}
	owners := map[int64]string{}
	for i, part := range strings.Split(q.Get("ids"), ",") {
		if i >= maxLiveIDs {
			break
		}
		id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || id <= 0 {
			continue
		}
		d, err := u.store.DeliveryGet(r.Context(), id)
		if hookd.ErrorCode(err) == hookd.ENOTFOUND {
			continue
		} else if err != nil {
			return fmt.Errorf("get delivery %d: %w", id, err)
		}
		if !isAdmin(s.key) {
			owner, ok := owners[d.WebhookID]
			if !ok {
				hook, err := u.store.WebhookGet(r.Context(), d.WebhookID)
				if err != nil && hookd.ErrorCode(err) != hookd.ENOTFOUND {
					return fmt.Errorf("get webhook %d: %w", d.WebhookID, err)
				}
				if hook != nil {
					owner = hook.CreatedBy
				}
				owners[d.WebhookID] = owner
			}
			if !canManage(s.key, owner) {
				continue
			}
		}
		out.Rows = append(out.Rows, newLiveRow(d))
	}
	if since := q.Get("since"); since != "" {
		n, err := u.countNewer(r, s.key, q, since)
		if err != nil {
			return err
		}
		out.Newer = n
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func newLiveRow(d *hookd.Delivery) liveRow {
	b := deliveryBadge(d)
	row := liveRow{
		ID: d.ID, State: d.State, StateLabel: stateLabel(d.State),
		BadgeClass: b.Class, BadgeText: b.Text, BadgeTitle: b.Title,
		Attempts: d.Attempts, Live: live(d.State),
	}
	if d.DeliveredOn != nil {
		row.Delivery = d.DeliveredOn.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return row
}

// countNewer counts the deliveries above id since that match the filter in q, up to a page.
func (u *UI) countNewer(r *http.Request, k *hookd.Key, q url.Values, since string) (int, error) {
	sinceID, err := strconv.ParseInt(since, 10, 64)
	if err != nil || sinceID < 0 {
		return 0, hookd.Errorf(hookd.EINVALID, "since must be a delivery id.")
	}
	f, err := parseHistoryFilter(q)
	if err != nil {
		return 0, err
	}
	f.Page, f.MaxID = 1, 0
	rows, _, err := u.store.DeliveryList(r.Context(), f.storeFilter(k, 0))
	if err != nil {
		return 0, fmt.Errorf("list newer deliveries: %w", err)
	}
	n := 0
	for _, d := range rows {
		if d.ID > sinceID {
			n++
		}
	}
	return n, nil
}
