// Package hookd holds the domain of the hookd webhook server: webhooks, events, deliveries,
// attempts and API keys, the Store contract every backend implements, the domain error type,
// and the pure parts of delivery (trigger masks, the DocSpace body and signature, the retry
// schedule). It imports only the standard library; everything that touches a database, the
// network or a terminal lives under internal/ and depends on this package, never the reverse.
package hookd
