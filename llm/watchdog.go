package llm

import (
	"context"
	"fmt"
	"time"
)

// timeoutError is the cancellation cause a watchdog timer sets; Stream turns
// it into a ModelTimeout error with its text as the message.
type timeoutError struct {
	what  string // "response headers", "first token", …
	limit time.Duration
}

func (e *timeoutError) Error() string {
	switch e.what {
	case "idle":
		return fmt.Sprintf("no data for %s mid-stream", e.limit)
	case "total":
		return fmt.Sprintf("answer not complete within %s", e.limit)
	default:
		return fmt.Sprintf("no %s within %s", e.what, e.limit)
	}
}

// watchdog cancels a call's context when one of its deadlines passes. The
// header and first-token deadlines run from the start of the call, the idle
// deadline from the first token on (reset by every chunk; before the first
// token a model may legitimately think for a long time, which the first-token
// deadline bounds), the total deadline from the start.
//
// Its methods are called only from the goroutine running Stream (the
// http.Client calls RoundTrip synchronously), so it needs no lock; the timers
// only call cancel, which is safe from any goroutine.
type watchdog struct {
	cancel                      context.CancelCauseFunc
	header, first, idle, total  *time.Timer
	idleLimit                   time.Duration
	headersSeen, firstTokenSeen bool
}

func startWatchdog(cancel context.CancelCauseFunc, cfg Config) *watchdog {
	w := &watchdog{cancel: cancel, idleLimit: cfg.IdleTimeout}
	w.header = w.arm("response headers", cfg.HeaderTimeout)
	w.first = w.arm("first token", cfg.FirstTokenTimeout)
	w.total = w.arm("total", cfg.TotalTimeout)
	return w
}

func (w *watchdog) arm(what string, limit time.Duration) *time.Timer {
	if limit <= 0 {
		return nil
	}
	cause := &timeoutError{what: what, limit: limit}
	return time.AfterFunc(limit, func() { w.cancel(cause) })
}

func (w *watchdog) headersArrived() {
	if w.headersSeen {
		return
	}
	w.headersSeen = true
	stopTimer(w.header)
}

// firstToken is called for the first chunk with visible output.
func (w *watchdog) firstToken() {
	if w.firstTokenSeen {
		return
	}
	w.firstTokenSeen = true
	stopTimer(w.first)
	w.idle = w.arm("idle", w.idleLimit)
}

// chunk is called for every data event; it restarts the idle deadline.
func (w *watchdog) chunk() {
	if w.idle != nil {
		w.idle.Reset(w.idleLimit)
	}
}

func (w *watchdog) stop() {
	for _, t := range []*time.Timer{w.header, w.first, w.idle, w.total} {
		stopTimer(t)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
