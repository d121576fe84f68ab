package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// listen opens a unixgram socket like systemd's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %q: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read datagram: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{StateReady, Status("serving 2 adapters"), StateStopping} {
		if err := Notify(state); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, conn); got != state {
			t.Fatalf("datagram %q, want %q", got, state)
		}
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@parley-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn := listen(t, name)
	if err := NotifySocket(name, StateReady); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, conn); got != StateReady {
		t.Fatalf("datagram %q", got)
	}
}

func TestNotifyUnsetAndErrors(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify(StateReady); err != nil {
		t.Fatalf("unset socket: %v", err)
	}
	if err := NotifySocket("vsock:2:1234", StateReady); err == nil {
		t.Fatal("vsock address accepted")
	}
	if err := NotifySocket(filepath.Join(t.TempDir(), "absent.sock"), StateReady); err == nil {
		t.Fatal("missing socket accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"60000000", "", 30 * time.Second, false},
		{"60000000", me, 30 * time.Second, false},
		{"60000000", "1", 0, false}, // meant for another process
		{"abc", "", 0, true},
		{"-5", "", 0, true},
		{"60000000", "x", 0, true},
	} {
		env := map[string]string{"WATCHDOG_USEC": c.usec, "WATCHDOG_PID": c.pid}
		got, err := WatchdogInterval(func(k string) string { return env[k] })
		if got != c.want || (err != nil) != c.err {
			t.Errorf("USEC=%q PID=%q: %s, %v; want %s, error %v", c.usec, c.pid, got, err, c.want, c.err)
		}
	}
}

func TestWatchdogPingsWhileHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var pings []time.Duration
		healthy := true
		start := time.Now()
		w := StartWatchdog(context.Background(), WatchdogOptions{
			Interval: 10 * time.Second,
			Check: func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				if !healthy {
					return errors.New("store closed")
				}
				return nil
			},
			Notify: func(state string) error {
				if state != StateWatchdog {
					t.Errorf("state %q", state)
				}
				mu.Lock()
				pings = append(pings, time.Since(start))
				mu.Unlock()
				return nil
			},
		})
		time.Sleep(25 * time.Second) // pings at 0, 10s, 20s
		mu.Lock()
		healthy = false
		mu.Unlock()
		time.Sleep(20 * time.Second) // 30s, 40s withheld
		mu.Lock()
		healthy = true
		mu.Unlock()
		time.Sleep(10 * time.Second) // 50s
		w.Stop()
		time.Sleep(time.Minute) // none after Stop
		want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 50 * time.Second}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(pings) != fmt.Sprint(want) {
			t.Fatalf("pings at %v, want %v", pings, want)
		}
	})
}

func TestWatchdogOffAndContext(t *testing.T) {
	StartWatchdog(context.Background(), WatchdogOptions{}).Stop() // off: Stop returns at once
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var n int
		w := StartWatchdog(ctx, WatchdogOptions{Interval: time.Second, Notify: func(string) error { n++; return nil }})
		time.Sleep(1500 * time.Millisecond)
		cancel()
		w.Stop() // returns once the goroutine saw the cancellation
		if n != 2 {
			t.Fatalf("%d pings, want 2", n)
		}
	})
}
