package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// sd_notify states Parley sends.
const (
	StateReady     = "READY=1"     // start-up finished: adapters serving
	StateStopping  = "STOPPING=1"  // shutdown began
	StateReloading = "RELOADING=1" // SIGHUP reload began; send StateReady when done
	StateWatchdog  = "WATCHDOG=1"  // keep-alive for WatchdogSec=
)

// Status returns the state that sets the one-line status systemctl shows.
func Status(text string) string { return "STATUS=" + text }

// Notify sends state to the service manager over $NOTIFY_SOCKET (the
// sd_notify protocol). It does nothing when the variable is unset, i.e.
// when not started by systemd with Type=notify.
func Notify(state string) error {
	return NotifySocket(os.Getenv("NOTIFY_SOCKET"), state)
}

// NotifySocket sends state as one datagram to the unixgram socket at
// socket: a path, or "@name" for an abstract socket. "" does nothing.
func NotifySocket(socket, state string) error {
	if socket == "" {
		return nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		// systemd may also pass vsock: addresses, which only VMs use.
		return fmt.Errorf("sd_notify %q: unsupported NOTIFY_SOCKET address %q", state, socket)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	return nil
}

// WatchdogInterval returns how often to send StateWatchdog: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled advises. It returns 0 when the
// watchdog is off or meant for another process ($WATCHDOG_PID).
func WatchdogInterval(getenv func(string) string) (time.Duration, error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("parse WATCHDOG_PID %q: %w", p, err)
		}
		if pid != os.Getpid() {
			return 0, nil
		}
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("parse WATCHDOG_USEC %q: not a positive number", usec)
	}
	return time.Duration(n) * time.Microsecond / 2, nil
}

// WatchdogOptions configure StartWatchdog.
type WatchdogOptions struct {
	// Interval between keep-alives; <= 0 disables the watchdog.
	Interval time.Duration
	// Check, when set, must pass for a keep-alive to be sent, so that a
	// wedged process is restarted; it gets a context bounded by Interval.
	Check func(ctx context.Context) error
	// Notify sends a state (default Notify).
	Notify func(state string) error
	Logger *slog.Logger
}

// Watchdog sends keep-alives from its own goroutine until Stop or until
// its context ends.
type Watchdog struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartWatchdog starts the keep-alives. With a zero Interval it returns a
// Watchdog that does nothing, so callers need no special case.
func StartWatchdog(ctx context.Context, opts WatchdogOptions) *Watchdog {
	w := &Watchdog{done: make(chan struct{})}
	if opts.Interval <= 0 {
		w.cancel = func() {}
		close(w.done)
		return w
	}
	if opts.Notify == nil {
		opts.Notify = Notify
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx, opts)
	return w
}

func (w *Watchdog) run(ctx context.Context, opts WatchdogOptions) {
	defer close(w.done)
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		beat(ctx, opts)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat sends one keep-alive unless the health check fails.
func beat(ctx context.Context, opts WatchdogOptions) {
	if opts.Check != nil {
		cctx, cancel := context.WithTimeout(ctx, opts.Interval)
		err := opts.Check(cctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				opts.Logger.Error("watchdog: health check failed; withholding the keep-alive", "err", err)
			}
			return
		}
	}
	if err := opts.Notify(StateWatchdog); err != nil {
		opts.Logger.Warn("watchdog: keep-alive not sent", "err", err)
	}
}

// Stop ends the keep-alives and waits for the goroutine.
func (w *Watchdog) Stop() {
	w.cancel()
	<-w.done
}
