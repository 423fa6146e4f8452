// Package delivery sends webhook deliveries: a Worker claims due deliveries from the store,
// a fixed pool of goroutines POSTs them through a Sender, and a recorder writes the attempts
// back in batches. A webhook has at most an adaptive number of attempts in flight (loads.go:
// it grows while the receiver answers quickly and halves when it shows congestion), so that
// a slow, overloaded or dead receiver cannot hold every sender; the dispatcher (dispatch.go)
// queues or parks the claims over the limit. The recorder also judges each receiver's health
// (health.go) and moves its webhook between healthy, degraded and paused in the store; a
// paused webhook's deliveries are held and only probes go out, until one is delivered.
// Every outbound connection goes through a Guard, which resolves the
// receiver's host once, refuses private, loopback and link-local addresses unless an
// allow-list opens them, and dials the address it checked, so that DNS cannot be changed
// between the check and the connection.
//
// The package depends on the hookd domain package only; the store is reached through the
// small Store interface declared here.
package delivery
