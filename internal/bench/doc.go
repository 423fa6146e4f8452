// Package bench measures hookd end to end, as `hookd bench` runs it.
//
// A run starts three kinds of processes from the hookd binary itself (os.Executable): a
// receiver (`hookd bench receiver`), a server (`hookd serve`) on the chosen database, and, for
// the baseline, a plain Go HTTP client (`hookd bench baseline`) that posts the same bodies
// straight to the same receiver with the same concurrency. Separate processes keep the
// receiver and the load generator from sharing the server's scheduler, and give each its own
// CPU and memory figures.
//
// Latency is measured from the bodies: every published payload carries the publisher's clock
// (unix nanoseconds, field "ts"), and the receiver, on the same machine and clock, subtracts
// it from the time the request arrived. The receiver keeps the first attempt of every
// delivery (by event.id) and answers the driver's questions over a small HTTP endpoint under
// /_bench/.
//
// Besides the end-to-end run, the package generates large delivery histories directly in the
// store with bulk SQL (one file per backend) and times the log listing and retries on them
// (Query). The figures are reported, never asserted: TestSmoke only checks that a small run
// completes and reports non-zero figures.
package bench
