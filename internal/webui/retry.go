package webui

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// maxRetryIDs caps one batch retry; a history page offers pageSize rows.
const maxRetryIDs = 1000

// handleRetryOne re-sends one delivery from its details page: a new delivery of the same
// event, shown at the top of its webhook's history.
func (u *UI) handleRetryOne(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.pathDelivery(r, s.key)
	if err != nil {
		return err
	}
	created, err := u.retry(r.Context(), s.key, []int64{d.ID})
	if err != nil {
		return err
	}
	if len(created) == 0 {
		return hookd.ErrNotFound // deleted between the check and the retry
	}
	u.retried(w, created, 1)
	http.Redirect(w, r, fmt.Sprintf("/webhooks/%d/history", d.WebhookID), http.StatusSeeOther)
	return nil
}

// handleRetryBatch re-sends the deliveries selected in a history ("sel"), or the one whose row
// button was pressed ("one"), and goes back to that history. Deliveries that do not exist or
// that the key may not see are skipped, as the API does.
func (u *UI) handleRetryBatch(w http.ResponseWriter, r *http.Request, s *session) error {
	back := r.PostFormValue("return")
	if !strings.HasPrefix(back, "/history") && !strings.HasPrefix(back, "/webhooks/") {
		back = "/history"
	}
	back = localPath(back, "/history")
	values := r.PostForm["sel"]
	if one := r.PostFormValue("one"); one != "" {
		values = []string{one}
	}
	if len(values) > maxRetryIDs {
		return hookd.Errorf(hookd.EINVALID, "Too many deliveries: at most %d per retry, got %d.", maxRetryIDs, len(values))
	}
	ids := make([]int64, 0, len(values))
	for _, v := range values {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return hookd.Errorf(hookd.EINVALID, "Not a delivery id: %q.", v)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		u.setFlash(w, flash{Kind: "error", Text: "Select at least one delivery to retry."})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	created, err := u.retry(r.Context(), s.key, ids)
	if err != nil {
		return err
	}
	u.retried(w, created, len(ids))
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// retry creates the new deliveries and wakes the dispatcher.
func (u *UI) retry(ctx context.Context, k *hookd.Key, ids []int64) ([]*hookd.Delivery, error) {
	p := &hookd.DeliveryRetryParams{IDs: ids, CreatedBy: k.UserID}
	if !isAdmin(k) {
		p.WebhookCreatedBy = &k.UserID
	}
	created, err := u.store.DeliveryRetry(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("retry deliveries: %w", err)
	}
	if len(created) > 0 {
		u.wakeDispatcher()
	}
	return created, nil
}

// retried leaves the notice of a retry: how many were re-sent, and their ids to mark.
func (u *UI) retried(w http.ResponseWriter, created []*hookd.Delivery, asked int) {
	f := flash{Text: retryMessage(len(created), asked)}
	if len(created) == 0 {
		f.Kind = "error"
	}
	for _, d := range created {
		if len(f.IDs) == pageSize {
			break // only one page of them can be on screen
		}
		f.IDs = append(f.IDs, d.ID)
	}
	u.setFlash(w, f)
}

// retryMessage says what a retry did: "3 deliveries re-sent".
func retryMessage(sent, asked int) string {
	noun := "deliveries"
	if sent == 1 {
		noun = "delivery"
	}
	msg := fmt.Sprintf("%d %s re-sent.", sent, noun)
	if skipped := asked - sent; skipped > 0 {
		msg += fmt.Sprintf(" %d skipped: not found or not yours.", skipped)
	}
	return msg
}

// visibleDelivery returns delivery id if it exists (else not found) and k may see it (else
// access denied), as the API decides.
func (u *UI) visibleDelivery(ctx context.Context, k *hookd.Key, id int64) (*hookd.Delivery, error) {
	d, err := u.store.DeliveryGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if isAdmin(k) {
		return d, nil
	}
	hook, err := u.store.WebhookGet(ctx, d.WebhookID)
	if err != nil {
		return nil, err
	}
	if !canManage(k, hook.CreatedBy) {
		return nil, hookd.ErrAccessDenied
	}
	return d, nil
}
