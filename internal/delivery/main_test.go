package delivery_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the worker starts
// dispatcher, sender and recorder goroutines that must all end with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
