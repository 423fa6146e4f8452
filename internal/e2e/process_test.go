package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookdBin is the hookd binary built once for the tests that run it as a child process.
var hookdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hookdBin = filepath.Join(dir, "hookd")
	build := exec.Command("go", "build", "-o", hookdBin, "github.com/hookd/hookd/cmd/hookd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hookd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a `hookd serve` child process.
type node struct {
	cmd  *exec.Cmd
	URL  string
	done chan struct{}
	mu   sync.Mutex
	logs strings.Builder
}

var listening = regexp.MustCompile(`hookd listening on (http://\S+)`)

// startNode runs `hookd serve` with the environment env (HOOKD_* settings) and waits until it
// listens. The process is killed when the test ends, if still running.
func startNode(t *testing.T, env map[string]string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(hookdBin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hookd: %v", err)
	}
	n := &node{cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.logs.WriteString(line + "\n")
			n.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		// Wait only after the last line was read: Wait closes the pipe, and a line still in it
		// would be lost.
		cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-n.done
		if t.Failed() {
			t.Logf("hookd logs:\n%s", n.Logs())
		}
	})
	select {
	case n.URL = <-urlc:
	case <-n.done:
		t.Fatalf("hookd exited before listening:\n%s", n.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("hookd did not listen within 30s:\n%s", n.Logs())
	}
	return n
}

// Logs returns what the node wrote to stderr so far.
func (n *node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// Kill9 ends the node with SIGKILL, as a crash would, and waits for it to be gone.
func (n *node) Kill9(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	<-n.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit.
func (n *node) Stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(timeout):
		t.Fatalf("hookd did not stop within %s", timeout)
	}
}
