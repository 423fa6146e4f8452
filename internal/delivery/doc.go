// Package delivery sends webhook deliveries: a Worker claims due deliveries from the store,
// a fixed pool of goroutines POSTs them through a Sender, and a recorder writes the attempts
// back in batches. A webhook has at most a capped number of attempts in flight, so that a
// slow or dead receiver cannot hold every sender; the dispatcher (dispatch.go) queues or parks
// the claims over the cap. Every outbound connection goes through a Guard, which resolves the
// receiver's host once, refuses private, loopback and link-local addresses unless an
// allow-list opens them, and dials the address it checked, so that DNS cannot be changed
// between the check and the connection.
//
// The package depends on the hookd domain package only; the store is reached through the
// small Store interface declared here.
package delivery
