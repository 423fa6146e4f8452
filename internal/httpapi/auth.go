package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/hookd/hookd"
)

// callerKey is the context key of the authenticated *hookd.Key.
type callerKey struct{}

// caller returns the key that authenticated the request. Only handlers wrapped by auth call
// it, so the key is always there.
func caller(ctx context.Context) *hookd.Key {
	k, _ := ctx.Value(callerKey{}).(*hookd.Key)
	return k
}

// isAdmin reports whether k's owner sees and manages everything.
func isAdmin(k *hookd.Key) bool { return k.Role == hookd.RoleAdmin }

// canWrite reports whether k may call routes that change state.
func canWrite(k *hookd.Key) bool { return k.Scope == hookd.ScopeWrite }

// auth authenticates the request with its API key (spec §6) before h runs: a missing,
// unknown, revoked or expired key is refused with 401, and a read-only key on a route that
// changes state with 403.
func (a *API) auth(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		k, err := a.authenticate(r)
		if err != nil {
			return err
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !canWrite(k) {
			return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: this API key is read-only (scope %s).", k.Scope)
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, k)))
	}
}

// authenticate returns the valid key of the request's Authorization header.
func (a *API) authenticate(r *http.Request) (*hookd.Key, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "Authentication required: send an API key as \"Authorization: Bearer sk-...\".")
	}
	return hookd.Authenticate(r.Context(), a.keys, token, a.clock.Now())
}

// requireAdminWriter refuses callers that are not admins holding a write key.
func requireAdminWriter(k *hookd.Key) error {
	if !isAdmin(k) || !canWrite(k) {
		return hookd.Errorf(hookd.EFORBIDDEN, "Access denied: publishing events needs an admin key with scope %s.", hookd.ScopeWrite)
	}
	return nil
}

// canManage reports whether k may see and manage a webhook created by createdBy.
func canManage(k *hookd.Key, createdBy string) bool {
	return isAdmin(k) || (k.UserID != "" && createdBy == k.UserID)
}
