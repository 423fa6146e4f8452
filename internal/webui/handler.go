package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// handlerFunc is a page handler: it runs with a valid session and returns its error, which
// the wrapper shows on the error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

var errPageNotFound = hookd.Errorf(hookd.ENOTFOUND, "There is no page at this address.")

// maxFormBytes caps a form body; the largest form, a webhook's, is a few kilobytes.
const maxFormBytes = 64 << 10

// page wraps a handler that needs a session. Without one, the browser is sent to the sign-in
// page, which brings it back here afterwards.
func (u *UI) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.session(r)
		if err != nil {
			u.noSession(w, r, err)
			return
		}
		if s.flash != nil {
			u.clearCookie(w, "flash") // shown once, on this page
		}
		if err := h(w, r, s); err != nil {
			u.renderError(w, r, s, err)
		}
	})
}

// form wraps a handler of a POSTed form: it needs a session and the session's CSRF token.
func (u *UI) form(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.session(r)
		if err != nil {
			u.noSession(w, r, err)
			return
		}
		s.flash = nil
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			u.renderError(w, r, s, hookd.Errorf(hookd.EINVALID, "The form could not be read."))
			return
		}
		if err := checkCSRF(r, s); err != nil {
			u.renderError(w, r, s, err)
			return
		}
		if err := h(w, r, s); err != nil {
			u.renderError(w, r, s, err)
		}
	})
}

// writer refuses read-only keys before a handler that changes data.
func (u *UI) writer(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		if !canWrite(s.key) {
			return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: this API key is read-only (scope %s).", s.key.Scope)
		}
		return h(w, r, s)
	}
}

// data wraps a JSON endpoint of the page's script: no session is a 401, not a redirect.
func (u *UI) data(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := u.session(r)
		if err != nil {
			if _, ok := errors.AsType[*errNoSession](err); ok {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Signed out."})
				return
			}
			u.logger.Error("web ui session", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Internal error."})
			return
		}
		if err := h(w, r, s); err != nil {
			status, ok := errorStatus[hookd.ErrorCode(err)]
			if !ok || status == http.StatusInternalServerError {
				u.logger.Error("web ui", "method", r.Method, "path", r.URL.Path, "err", err)
				status = http.StatusInternalServerError
			}
			writeJSON(w, status, map[string]string{"error": hookd.ErrorMessage(err)})
		}
	})
}

// noSession answers a request without a good session: to the sign-in page, saying why.
func (u *UI) noSession(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errors.AsType[*errNoSession](err)
	if !ok {
		u.renderError(w, r, nil, err)
		return
	}
	if u.cookieValue(r, "session") != "" {
		u.clearCookie(w, "session")
	}
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		q.Set("next", r.URL.RequestURI())
	}
	if e.reason != "signin" {
		q.Set("reason", e.reason)
	}
	target := "/signin"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns p when it is a path on this server, else fallback: redirects never leave
// the UI, whatever a link's "next" says.
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return fallback
	}
	u, err := url.Parse(p)
	if err != nil || u.IsAbs() || u.Host != "" {
		return fallback
	}
	return p
}

// pathID reads the {id} path segment; anything but a positive integer is "not found".
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errPageNotFound
	}
	return id, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"Internal error."}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// asset is one embedded file with its content hash as ETag, so that browsers revalidate
// cheaply instead of downloading again.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

// assets serves the embedded files under assets/.
func (u *UI) assets() http.Handler {
	files := map[string]asset{}
	entries, _ := fs.ReadDir(assetFS, "assets")
	for _, e := range entries {
		body, err := fs.ReadFile(assetFS, "assets/"+e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		files[e.Name()] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// pathWebhook returns the webhook the {id} path segment names: not found when it does not
// exist, access denied when k may not manage it.
func (u *UI) pathWebhook(r *http.Request, k *hookd.Key) (*hookd.Webhook, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return u.manageableWebhook(r.Context(), k, id)
}

// pathDelivery returns the delivery the {id} path segment names, if k may see it.
func (u *UI) pathDelivery(r *http.Request, k *hookd.Key) (*hookd.Delivery, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return u.visibleDelivery(r.Context(), k, id)
}
