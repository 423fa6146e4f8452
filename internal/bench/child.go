package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Exec says how to start the hookd binary for the receiver, the server and the baseline.
type Exec struct {
	// Path is the binary. Default os.Executable(): `hookd bench` runs its own binary.
	Path string
	// Args go before the subcommand's arguments (tests run their own binary this way).
	Args []string
	// Env is added to the driver's environment.
	Env []string
}

func (x Exec) path() (string, error) {
	if x.Path != "" {
		return x.Path, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the hookd binary: %w", err)
	}
	return p, nil
}

// Usage is what a process consumed.
type Usage struct {
	CPU     time.Duration `json:"cpu"`     // user + system time
	PeakRSS int64         `json:"peakRSS"` // bytes, the high-water mark of resident memory
}

// child is a process started from the hookd binary.
type child struct {
	name   string
	cmd    *exec.Cmd
	url    string    // from its ready line, if it has one
	tail   *lineTail // its last lines of stderr, for error messages
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startChild runs the binary with args and env. When ready is not empty it waits (up to
// readyTimeout) for a stderr line containing ready followed by a URL, and sets url. The
// child's stdout goes to stdout (nil discards it).
func startChild(ctx context.Context, x Exec, name string, args, env []string, ready string, stdout io.Writer) (*child, error) {
	path, err := x.path()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, append(append([]string{}, x.Args...), args...)...)
	cmd.Env = append(append(os.Environ(), x.Env...), env...)
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, tail: &lineTail{max: 30}, exited: make(chan struct{})}
	urls := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.tail.add(line)
			if _, after, ok := strings.Cut(line, ready); ready != "" && ok {
				url, _, _ := strings.Cut(after, " ")
				select {
				case urls <- url:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it to the end first
		c.err = cmd.Wait()
		close(c.exited)
	}()
	if ready == "" {
		return c, nil
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case c.url = <-urls:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, c.err, c.tail)
	case <-timer.C:
		c.stop(time.Second)
		return nil, fmt.Errorf("%s not ready after %s: %s", name, readyTimeout, c.tail)
	case <-ctx.Done():
		c.stop(time.Second)
		return nil, ctx.Err()
	}
}

// readyTimeout is how long a child may take to listen; a migration of a large database
// counts.
const readyTimeout = 2 * time.Minute

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to end (SIGTERM), kills it after grace, waits for it and returns what
// it used over its life.
func (c *child) stop(grace time.Duration) (Usage, error) {
	select {
	case <-c.exited:
	default:
		if err := terminate(c.cmd.Process); err != nil {
			c.cmd.Process.Kill()
		}
		t := time.NewTimer(grace)
		select {
		case <-c.exited:
			t.Stop()
		case <-t.C:
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
	u := processUsage(c.cmd.ProcessState)
	var ee *exec.ExitError
	if c.err != nil && !(errors.As(c.err, &ee) && ee.Exited() && ee.ExitCode() == 0) {
		if errors.As(c.err, &ee) && !ee.Exited() {
			return u, nil // ended by our signal
		}
		return u, fmt.Errorf("%s: %w: %s", c.name, c.err, c.tail)
	}
	return u, nil
}

// wait waits for the child to exit by itself and returns its usage.
func (c *child) wait(ctx context.Context) (Usage, error) {
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.stop(time.Second)
		return Usage{}, ctx.Err()
	}
	u := processUsage(c.cmd.ProcessState)
	if c.err != nil {
		return u, fmt.Errorf("%s: %w: %s", c.name, c.err, c.tail)
	}
	return u, nil
}

// lineTail keeps the last lines written to it.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(t.lines, "\n")
}
