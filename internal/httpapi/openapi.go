package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of hookd in OpenAPI 3: the DocSpace routes, hookd's
// extensions, and the operations endpoints served beside the API (/metrics). openapi_test.go
// checks it against routes.go and runs each of its examples against the handlers.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI answers GET /api/2.0/openapi.json with the document as it is (no envelope:
// tools read it directly). It needs no key: it describes the API, not its data.
func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err := w.Write(openAPIDocument)
	return err
}
