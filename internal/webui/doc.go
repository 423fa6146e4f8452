// Package webui serves hookd's web pages at "/": the webhooks of the signed-in key's owner
// with a status badge, an enable switch, their health (docs/health.md) and Pause and Resume
// buttons, the delivery history with DocSpace's filters (spec docspace-webhooks-api.md §1.6,
// §7), the details of one delivery with every attempt, and single and batch retry.
//
// Pages are rendered on the server with html/template; templates and assets are embedded, one
// template per page. A small embedded script (assets/app.js) formats times in the browser's
// time zone, generates secrets, and polls a JSON endpoint so that deliveries still in flight
// update without a reload. The Content-Security-Policy allows only the server itself: no
// inline script or style.
//
// Sign-in takes an API key and turns it into a session cookie that never holds the key: the
// cookie is "keyID.expiry.mac", the mac an HMAC-SHA256 keyed with the key's stored hash, so
// revoking the key ends its sessions. Every form carries a CSRF token derived from the
// session. The role rules are the API's (spec §6): an admin key sees everything, a user key
// only its own webhooks, a read-only key changes nothing.
package webui
