package webui

import (
	"crypto/hmac"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// signinPage is the data of the sign-in page.
type signinPage struct {
	base
	Next    string
	Token   string // the sign-in form's CSRF token, also in a cookie (double submit)
	Message string // why the browser is here, or why the key was refused
}

// signinReasons explain why a browser was sent to sign in again.
var signinReasons = map[string]string{
	"expired":   "Your session has expired. Sign in again.",
	"revoked":   "The API key of your session has been revoked. Sign in with another key.",
	"signedout": "You are signed out.",
}

// handleSigninForm shows the sign-in form, or sends a browser that is signed in on. The form's CSRF token is random and also set in a
// SameSite=Strict cookie, so a form posted from another site cannot sign the browser in.
func (u *UI) handleSigninForm(w http.ResponseWriter, r *http.Request) {
	if _, err := u.session(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/webhooks"), http.StatusSeeOther)
		return
	}
	u.showSignin(w, r, http.StatusOK, r.URL.Query().Get("next"), signinReasons[r.URL.Query().Get("reason")])
}

func (u *UI) showSignin(w http.ResponseWriter, r *http.Request, status int, next, message string) {
	token := randomToken()
	u.setCookie(w, "signin", token, time.Hour)
	u.render(w, r, status, "signin", signinPage{
		base:    newBase(nil, "Sign in", ""),
		Next:    localPath(next, "/webhooks"),
		Token:   token,
		Message: message,
	})
}

// handleSignin checks the API key typed in the form and starts a session for it. The key is
// used once, to find its record; the browser only ever holds the session cookie.
func (u *UI) handleSignin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.showSignin(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	next := localPath(r.PostFormValue("next"), "/webhooks")
	cookie, token := u.cookieValue(r, "signin"), r.PostFormValue("csrf")
	if cookie == "" || !hmac.Equal([]byte(cookie), []byte(token)) {
		u.showSignin(w, r, http.StatusForbidden, next, "The sign-in form has expired or did not come from this page. Try again.")
		return
	}
	k, err := u.authenticate(r, strings.TrimSpace(r.PostFormValue("key")))
	if err != nil {
		status := http.StatusUnauthorized
		if hookd.ErrorCode(err) == hookd.EINTERNAL {
			u.logger.Error("web ui sign-in", "err", err)
			status = http.StatusInternalServerError
		}
		u.showSignin(w, r, status, next, hookd.ErrorMessage(err))
		return
	}
	u.clearCookie(w, "signin")
	u.startSession(w, k)
	u.logger.Info("web ui sign-in", "key_id", k.ID, "key_name", k.Name)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// authenticate returns the valid key whose secret was typed, with the API's messages.
func (u *UI) authenticate(r *http.Request, secret string) (*hookd.Key, error) {
	if secret == "" {
		return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "Enter an API key (sk-...).")
	}
	return hookd.Authenticate(r.Context(), u.store, secret, u.clock.Now())
}

// handleSignout ends the browser's session. Other browsers signed in with the same key keep
// theirs; revoking the key ends them all.
func (u *UI) handleSignout(w http.ResponseWriter, r *http.Request, s *session) error {
	u.clearCookie(w, "session")
	http.Redirect(w, r, "/signin?reason=signedout", http.StatusSeeOther)
	return nil
}
