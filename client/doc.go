// Package client is a typed Go client of the hookd API, which is wire-compatible with the
// webhook routes of ONLYOFFICE DocSpace: the same code works against a hookd server and
// against https://yourportal.onlyoffice.com with a DocSpace API key.
//
// Every call takes a context. Failures that the server answered are *Error values carrying
// the HTTP status and the server's message; failures to reach the server are returned as the
// transport error, wrapped. GET requests (and the retry routes, on 429 only) are retried with
// backoff that honours Retry-After.
//
// Trigger masks are int64 (DocSpace's trigger enum reaches 2^35) and decode whatever
// combination of bits the server sends; the triggers list is read in both of its shapes (the
// v3.1–v3.6 name→value object and the v3.7 array). DeliveryPager walks the delivery log page
// by page and stays correct while new deliveries arrive: against hookd it pins pages with the
// maxId parameter, against DocSpace it deduplicates by id and follows the growth of total.
package client
