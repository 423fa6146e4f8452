package webui

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookd/hookd"
)

// webhooksPage is the data of the webhook list.
type webhooksPage struct {
	base
	Webhooks []*hookd.Webhook
}

// handleWebhookList shows every webhook for an admin, the key owner's own for a user.
func (u *UI) handleWebhookList(w http.ResponseWriter, r *http.Request, s *session) error {
	hooks, err := u.visibleWebhooks(r.Context(), s.key)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "webhooks", webhooksPage{base: newBase(s, "Webhooks", "webhooks"), Webhooks: hooks})
	return nil
}

// visibleWebhooks lists the webhooks k may see.
func (u *UI) visibleWebhooks(ctx context.Context, k *hookd.Key) ([]*hookd.Webhook, error) {
	var f hookd.WebhookFilter
	if !isAdmin(k) {
		f.CreatedBy = &k.UserID
	}
	hooks, err := u.store.WebhookList(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return hooks, nil
}

// manageableWebhook returns webhook id if it exists (else not found) and k may manage it
// (else access denied), as the API decides.
func (u *UI) manageableWebhook(ctx context.Context, k *hookd.Key, id int64) (*hookd.Webhook, error) {
	hook, err := u.store.WebhookGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canManage(k, hook.CreatedBy) {
		return nil, hookd.ErrAccessDenied
	}
	return hook, nil
}

// webhookFormPage is the data of the create and edit form.
type webhookFormPage struct {
	base
	Form     webhookForm
	Create   bool
	Groups   []triggerGroup
	Error    string
	HasError bool
}

func (u *UI) showWebhookForm(w http.ResponseWriter, r *http.Request, s *session, status int, f webhookForm, create bool, err error) {
	title := "New webhook"
	if !create {
		title = "Edit " + f.Name
	}
	page := webhookFormPage{
		base:   newBase(s, title, "webhooks"),
		Form:   f,
		Create: create,
		Groups: triggerGroups(s.key),
	}
	if err != nil {
		page.Error, page.HasError = hookd.ErrorMessage(err), true
	}
	u.render(w, r, status, "webhook_form", page)
}

// handleWebhookNew shows an empty form: every event, SSL verification and enabled on, as
// DocSpace's dialog starts.
func (u *UI) handleWebhookNew(w http.ResponseWriter, r *http.Request, s *session) error {
	if !canWrite(s.key) {
		return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: this API key is read-only (scope %s).", s.key.Scope)
	}
	u.showWebhookForm(w, r, s, http.StatusOK, webhookForm{SSL: true, Enabled: true, AllTriggers: true}, true, nil)
	return nil
}

// handleWebhookCreate stores a new webhook and goes back to the list.
func (u *UI) handleWebhookCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	f, err := parseWebhookForm(r)
	if err == nil {
		err = u.checkWebhookForm(r.Context(), s.key, &f, true)
	}
	if err == nil {
		switch _, ferr := u.store.WebhookFind(r.Context(), f.Name, f.URI); hookd.ErrorCode(ferr) {
		case "":
			err = hookd.Errorf(hookd.ECONFLICT, "Webhook with the same name and payload URL already exists")
		case hookd.ENOTFOUND:
		default:
			return ferr
		}
	}
	if err != nil {
		return u.formError(w, r, s, f, true, err)
	}
	created, err := u.store.WebhookCreate(r.Context(), &hookd.Webhook{
		Name: f.Name, URI: f.URI, Secret: f.Secret, SSL: f.SSL, Enabled: f.Enabled,
		Triggers: f.Triggers, TargetID: f.TargetID, CreatedBy: s.key.UserID, StandardSigning: f.StandardSigning,
		Ordered: f.Ordered,
	})
	if err != nil {
		return u.formError(w, r, s, f, true, err)
	}
	u.setFlash(w, flash{Text: fmt.Sprintf("Webhook %q created.", created.Name)})
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	return nil
}

// formError shows the form again with the message of a user error; other errors go to the
// error page.
func (u *UI) formError(w http.ResponseWriter, r *http.Request, s *session, f webhookForm, create bool, err error) error {
	status, ok := errorStatus[hookd.ErrorCode(err)]
	if !ok || status == http.StatusInternalServerError || status == http.StatusForbidden || status == http.StatusNotFound {
		return err
	}
	u.showWebhookForm(w, r, s, status, f, create, err)
	return nil
}

// checkWebhookForm validates the form and runs the outbound-safety check on its URL.
func (u *UI) checkWebhookForm(ctx context.Context, k *hookd.Key, f *webhookForm, create bool) error {
	if err := f.validate(k, create); err != nil {
		return err
	}
	if u.checkURL != nil {
		if err := u.checkURL(ctx, f.URI, f.SSL); err != nil {
			return err
		}
	}
	return nil
}

// handleWebhookEdit shows the form of a stored webhook; the secret field starts empty.
func (u *UI) handleWebhookEdit(w http.ResponseWriter, r *http.Request, s *session) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	if !canWrite(s.key) {
		return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: this API key is read-only (scope %s).", s.key.Scope)
	}
	u.showWebhookForm(w, r, s, http.StatusOK, newWebhookForm(hook), false, nil)
	return nil
}

// handleWebhookUpdate overwrites a webhook with the form; an empty secret keeps the stored one.
func (u *UI) handleWebhookUpdate(w http.ResponseWriter, r *http.Request, s *session) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	f, err := parseWebhookForm(r)
	f.ID = hook.ID
	if err == nil {
		err = u.checkWebhookForm(r.Context(), s.key, &f, false)
	}
	if err != nil {
		return u.formError(w, r, s, f, false, err)
	}
	now := u.clock.Now().UTC()
	updated, err := u.store.WebhookUpdate(r.Context(), &hookd.Webhook{
		ID: hook.ID, Name: f.Name, URI: f.URI, Secret: f.Secret, SSL: f.SSL, Enabled: f.Enabled,
		Triggers: f.Triggers, TargetID: f.TargetID, ModifiedBy: s.key.UserID, ModifiedOn: &now,
		StandardSigning: f.StandardSigning, Ordered: f.Ordered,
	})
	if err != nil {
		return u.formError(w, r, s, f, false, err)
	}
	if !hook.Enabled && updated.Enabled {
		// Switched on: the store resumed it, as the switch of the list does, and released
		// the deliveries a pause held.
		u.wakeDispatcher()
	}
	u.setFlash(w, flash{Text: fmt.Sprintf("Webhook %q saved.", updated.Name)})
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	return nil
}

// handleWebhookEnable flips the switch of the list. Enabling checks the stored URL again, as
// the API does, since the outbound rules may have changed since it was saved.
func (u *UI) handleWebhookEnable(w http.ResponseWriter, r *http.Request, s *session) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	enable := r.PostFormValue("enabled") == "true"
	if enable && u.checkURL != nil {
		if err := u.checkURL(r.Context(), hook.URI, hook.SSL); err != nil {
			if hookd.ErrorCode(err) == hookd.EINTERNAL {
				return err
			}
			u.setFlash(w, flash{Kind: "error", Text: fmt.Sprintf("Webhook %q stays disabled: %s", hook.Name, hookd.ErrorMessage(err))})
			http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
			return nil
		}
	}
	updated, err := u.store.WebhookSetEnabled(r.Context(), hook.ID, enable, s.key.UserID, "")
	if err != nil {
		return err
	}
	state := "disabled"
	if updated.Enabled {
		state = "enabled"
		u.wakeDispatcher() // deliveries a pause held are released
	}
	u.setFlash(w, flash{Text: fmt.Sprintf("Webhook %q %s.", updated.Name, state)})
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	return nil
}

// webhookDeletePage is the data of the delete confirmation.
type webhookDeletePage struct {
	base
	Webhook *hookd.Webhook
}

// handleWebhookDeleteConfirm asks before deleting: deleting also removes the history.
func (u *UI) handleWebhookDeleteConfirm(w http.ResponseWriter, r *http.Request, s *session) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	if !canWrite(s.key) {
		return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: this API key is read-only (scope %s).", s.key.Scope)
	}
	u.render(w, r, http.StatusOK, "webhook_delete", webhookDeletePage{base: newBase(s, "Delete "+hook.Name, "webhooks"), Webhook: hook})
	return nil
}

// handleWebhookDelete deletes a webhook with its deliveries.
func (u *UI) handleWebhookDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	hook, err := u.pathWebhook(r, s.key)
	if err != nil {
		return err
	}
	deleted, err := u.store.WebhookDelete(r.Context(), hook.ID)
	if err != nil {
		return err
	}
	u.setFlash(w, flash{Text: fmt.Sprintf("Webhook %q deleted.", deleted.Name)})
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	return nil
}
