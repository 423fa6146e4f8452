// Package httpapi serves hookd's JSON API: the nine DocSpace-compatible webhook routes under
// /api/2.0/settings (spec docspace-webhooks-api.md §1), with DocSpace's response envelope,
// error shape and case-insensitive body keys, plus hookd's extensions: publishing events (one
// or a batch), the attempt history of a delivery, pausing and resuming a webhook, replays,
// and health checks.
//
// Every route is declared in routes.go. Handlers return errors; one table in envelope.go maps
// hookd error codes to HTTP status codes and one function writes the DocSpace error envelope.
// Requests under /api/ authenticate with an API key (Authorization: Bearer sk-...); the key's
// scope decides which methods it may call and its role which webhooks it may see. A key read
// from the store is trusted for Config.KeyCacheTTL (5 s by default), so a revoke made in the
// database takes up to that long to reach a running node.
package httpapi
