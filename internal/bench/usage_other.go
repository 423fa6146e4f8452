//go:build !unix

package bench

import "os"

func terminate(p *os.Process) error { return p.Kill() }

func processUsage(ps *os.ProcessState) Usage {
	if ps == nil {
		return Usage{}
	}
	return Usage{CPU: ps.UserTime() + ps.SystemTime()}
}

func liveUsage(int) (Usage, bool) { return Usage{}, false }

func loadAverage() float64 { return -1 }
