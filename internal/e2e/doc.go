// Package e2e holds hookd's end-to-end tests: a real server (in-process or as a child
// process), real HTTP receivers, and the DocSpace wire format checked by independent code.
// It has no non-test code.
package e2e
