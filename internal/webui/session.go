package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// sessionTTL is how long a sign-in lasts (never past the key's own expiry).
const sessionTTL = 12 * time.Hour

// session is a signed-in browser: the key it signed in with and the CSRF token of its forms.
type session struct {
	key   *hookd.Key
	value string // the cookie value, from which the CSRF token is derived
	csrf  string
	flash *flash // a notice left by the previous request, shown once
}

// flash is a one-time notice carried by a cookie across a redirect: "3 deliveries re-sent".
type flash struct {
	Kind string  `json:"k"` // "ok" or "error"
	Text string  `json:"t"`
	IDs  []int64 `json:"i,omitempty"` // new delivery ids to mark in the history
}

// isNew reports whether id is one of the deliveries the notice announced.
func (f *flash) isNew(id int64) bool {
	if f == nil {
		return false
	}
	for _, x := range f.IDs {
		if x == id {
			return true
		}
	}
	return false
}

func isAdmin(k *hookd.Key) bool  { return k.Role == hookd.RoleAdmin }
func canWrite(k *hookd.Key) bool { return k.Scope == hookd.ScopeWrite }

// canManage reports whether k may see and manage a webhook created by createdBy.
func canManage(k *hookd.Key, createdBy string) bool {
	return isAdmin(k) || (k.UserID != "" && createdBy == k.UserID)
}

// Cookie names. With SecureCookies the __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no other host can plant or read them.
func (u *UI) cookieName(name string) string {
	if u.secure {
		return "__Host-hookd_" + name
	}
	return "hookd_" + name
}

func (u *UI) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     u.cookieName(name),
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   u.secure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: u.cookieName(name), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(u.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

// mac is HMAC-SHA256 keyed with a key's stored hash, which never leaves the server: only
// the server can mint or check a session of that key, and a new key means new sessions.
func mac(keyHash string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(keyHash))
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// sessionValue returns the cookie value of a new session of k: "keyID.expiry.mac".
func sessionValue(k *hookd.Key, expires time.Time) string {
	id := strconv.FormatInt(k.ID, 10)
	exp := strconv.FormatInt(expires.Unix(), 10)
	return id + "." + exp + "." + b64.EncodeToString(mac(k.Hash, "hookd-session", id, exp))
}

// csrfToken derives the token of a session's forms from its cookie value.
func csrfToken(k *hookd.Key, value string) string {
	return b64.EncodeToString(mac(k.Hash, "hookd-csrf", value))
}

// errNoSession means the request carries no session that is still good; Message says why.
type errNoSession struct{ reason string }

func (e *errNoSession) Error() string { return "no session: " + e.reason }

// startSession signs the browser in with k.
func (u *UI) startSession(w http.ResponseWriter, k *hookd.Key) {
	now := u.clock.Now()
	expires := now.Add(sessionTTL)
	if k.ExpiresOn != nil && k.ExpiresOn.Before(expires) {
		expires = *k.ExpiresOn
	}
	u.setCookie(w, "session", sessionValue(k, expires), expires.Sub(now))
}

// session returns the request's session: the cookie must be well formed and unexpired, its
// key must still exist and be valid (not revoked, not expired), and the mac must match.
func (u *UI) session(r *http.Request) (*session, error) {
	value := u.cookieValue(r, "session")
	if value == "" {
		return nil, &errNoSession{"signin"}
	}
	idText, rest, ok1 := strings.Cut(value, ".")
	expText, macText, ok2 := strings.Cut(rest, ".")
	id, err1 := strconv.ParseInt(idText, 10, 64)
	exp, err2 := strconv.ParseInt(expText, 10, 64)
	sum, err3 := b64.DecodeString(macText)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil {
		return nil, &errNoSession{"signin"}
	}
	now := u.clock.Now()
	if !now.Before(time.Unix(exp, 0)) {
		return nil, &errNoSession{"expired"}
	}
	k, err := u.keyByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if k == nil || !hmac.Equal(sum, mac(k.Hash, "hookd-session", idText, expText)) {
		return nil, &errNoSession{"signin"}
	}
	if !k.Valid(now) {
		if k.RevokedOn != nil {
			return nil, &errNoSession{"revoked"}
		}
		return nil, &errNoSession{"expired"}
	}
	s := &session{key: k, value: value, csrf: csrfToken(k, value)}
	if f := u.cookieValue(r, "flash"); f != "" {
		s.flash = decodeFlash(f)
	}
	return s, nil
}

// keyByID finds a key by id, nil when there is none. The store has no lookup by id; a
// deployment has a handful of keys, so listing them is cheap.
func (u *UI) keyByID(ctx context.Context, id int64) (*hookd.Key, error) {
	keys, err := u.store.KeyList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, nil
}

// checkCSRF compares the form's token with the session's in constant time.
func checkCSRF(r *http.Request, s *session) error {
	got := r.PostFormValue("csrf")
	if got == "" || !hmac.Equal([]byte(got), []byte(s.csrf)) {
		return hookd.Errorf(hookd.EFORBIDDEN, "The form has expired or did not come from this page (CSRF check failed). Go back, reload the page and try again.")
	}
	return nil
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("webui: crypto/rand failed: " + err.Error()) // cannot happen on supported platforms
	}
	return b64.EncodeToString(b)
}

// setFlash leaves a notice for the page the browser is redirected to.
func (u *UI) setFlash(w http.ResponseWriter, f flash) {
	b, err := json.Marshal(f)
	if err != nil {
		return // a struct of strings and ints always encodes
	}
	u.setCookie(w, "flash", b64.EncodeToString(b), time.Minute)
}

func decodeFlash(v string) *flash {
	b, err := b64.DecodeString(v)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Text == "" {
		return nil
	}
	if f.Kind != "error" {
		f.Kind = "ok"
	}
	return &f
}
