//go:build unix

package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// terminate asks p to shut down cleanly.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// processUsage reads the CPU time and peak RSS of an exited process.
func processUsage(ps *os.ProcessState) Usage {
	if ps == nil {
		return Usage{}
	}
	u := Usage{CPU: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.PeakRSS = int64(ru.Maxrss)
		if runtime.GOOS != "darwin" {
			u.PeakRSS *= 1024 // kilobytes everywhere but macOS
		}
	}
	return u
}

// liveUsage reads the CPU time and peak RSS of a running process from /proc (Linux); ok is
// false elsewhere.
func liveUsage(pid int) (u Usage, ok bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Usage{}, false
	}
	// The command name (field 2) may hold spaces: fields are counted after its ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Usage{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return Usage{}, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return Usage{}, false
	}
	const userHZ = 100 // USER_HZ: /proc reports ticks of 1/100 s on every Linux ABI
	u.CPU = time.Duration(utime+stime) * time.Second / userHZ
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return u, true
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, found := strings.CutPrefix(line, "VmHWM:"); found {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.PeakRSS = kb * 1024
		}
	}
	return u, true
}

// loadAverage returns the one-minute load average, or -1 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
