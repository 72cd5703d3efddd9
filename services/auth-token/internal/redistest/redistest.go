// Package redistest gives tests a real Redis: the shared one at REDIS_URL
// (default 127.0.0.1:6379) with a unique key prefix per test, or a private
// redis-server process that a test may kill to simulate an outage.
//
// When Redis is unavailable the test is skipped with the reason, unless
// CI=true, where a missing Redis is a broken pipeline and fails the test.
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// unavailable skips, or fails in CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: Redis is required)", msg)
	}
	t.Skipf("%s; skipping (set CI=true to make this a failure)", msg)
}

// SharedURL returns REDIS_URL or redis://127.0.0.1:6379 after checking
// that it answers PING.
func SharedURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "no Redis at %s: %v", opts.Addr, err)
	}
	return u
}

// Client returns a client for the shared Redis, closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, _ := redis.ParseURL(SharedURL(t))
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix no other test uses. Nothing needs cleaning
// up: entries expire with their tokens and locks with their TTL.
func Prefix(t testing.TB) string {
	t.Helper()
	return "mosipcrvs-test:" + rand.Text()[:12] + ":"
}

// Server is a private redis-server process.
type Server struct {
	// Addr is host:port.
	Addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start runs `redis-server --port N --save "" --appendonly no` on a free
// loopback port and waits until it answers. It is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server binary not found")
	}
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, exited: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(s.exited) }()
		if s.waitReady(5 * time.Second) {
			t.Cleanup(s.Kill)
			return s
		}
		s.Kill() // the port was taken between probe and start; try another
	}
	t.Fatal("redis-server did not become ready")
	return nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Kill stops the server abruptly (SIGKILL) and waits for it to exit.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

func (s *Server) waitReady(timeout time.Duration) bool {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
