package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadinessCheck is one condition of /readyz. Check returns nil when the
// condition holds; it must honour ctx (each check gets CheckTimeout).
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Connector is what AdapterCheck needs from an adapter.
type Connector interface {
	Connected() bool
}

// AdapterCheck is the readiness check "the adapter is connected".
func AdapterCheck(name string, c Connector) ReadinessCheck {
	return ReadinessCheck{Name: name, Check: func(context.Context) error {
		if !c.Connected() {
			return errors.New("not connected")
		}
		return nil
	}}
}

// DefaultCheckTimeout bounds each readiness check.
const DefaultCheckTimeout = 2 * time.Second

// ServerOptions configure the HTTP listener.
type ServerOptions struct {
	// Checks are the conditions of /readyz; AddCheck adds more later.
	Checks []ReadinessCheck
	// CheckTimeout bounds each check (default DefaultCheckTimeout).
	CheckTimeout time.Duration
	Logger       *slog.Logger
}

// Server serves /metrics, /healthz and /readyz on one listener.
type Server struct {
	m       *Metrics
	timeout time.Duration
	log     *slog.Logger
	handler http.Handler

	mu     sync.Mutex
	checks []ReadinessCheck
	stuck  map[string]bool // checks that ignored their deadline and still run
	srv    *http.Server
	done   chan struct{} // closed when Serve returns
}

// NewServer returns a server for m's registry; it listens once Start is
// called.
func NewServer(m *Metrics, opts ServerOptions) *Server {
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{m: m, timeout: opts.CheckTimeout, log: opts.Logger, checks: append([]ReadinessCheck(nil), opts.Checks...)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.Registry(), // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.handler = mux
	return s
}

// AddCheck adds a readiness condition (e.g. an adapter built after the
// server started).
func (s *Server) AddCheck(c ReadinessCheck) {
	s.mu.Lock()
	s.checks = append(s.checks, c)
	s.mu.Unlock()
}

// Handler returns the HTTP handler, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready runs every check concurrently and returns their failures by name
// (nil when all pass).
func (s *Server) Ready(ctx context.Context) map[string]error {
	s.mu.Lock()
	checks := append([]ReadinessCheck(nil), s.checks...)
	s.mu.Unlock()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			errs[i] = s.runCheck(cctx, c)
		})
	}
	wg.Wait()
	var failed map[string]error
	for i, err := range errs {
		if err == nil {
			continue
		}
		if failed == nil {
			failed = make(map[string]error)
		}
		failed[checks[i].Name] = err
	}
	return failed
}

// runCheck gives up on a check that ignores ctx, so /readyz answers in
// time; the check's goroutine ends when the check returns. Until it does,
// the check is not started again, so a hung check cannot pile up a
// goroutine per probe.
func (s *Server) runCheck(ctx context.Context, c ReadinessCheck) error {
	s.mu.Lock()
	if s.stuck[c.Name] {
		s.mu.Unlock()
		return errors.New("the previous check has not answered yet")
	}
	s.mu.Unlock()
	res := make(chan error, 1)
	go func() { res <- c.Check(ctx) }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.stuck == nil {
		s.stuck = make(map[string]bool)
	}
	s.stuck[c.Name] = true
	s.mu.Unlock()
	go func() {
		<-res
		s.mu.Lock()
		delete(s.stuck, c.Name)
		s.mu.Unlock()
	}()
	return fmt.Errorf("check did not answer: %w", ctx.Err())
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	failed := s.Ready(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failed) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	names := make([]string, 0, len(failed))
	for n := range failed {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %v\n", n, failed[n])
	}
	s.log.Warn("not ready", "failing", strings.Join(names, ","))
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, b.String())
}

// Start listens on listen ("host:port"; "" leaves the server off and
// returns "") and serves in a goroutine that Shutdown waits for. ctx bounds
// only the listen: the endpoint stays up through a drain so that it can be
// watched, until Shutdown.
func (s *Server) Start(ctx context.Context, listen string) (addr string, err error) {
	if listen == "" {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("metrics server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return "", fmt.Errorf("metrics listen on %s: %w", listen, err)
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}(s.srv, s.done)
	return ln.Addr().String(), nil
}

// Shutdown stops the server, waiting for requests in progress until ctx
// ends, and then for the serving goroutine. It is a no-op when the server
// was not started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// Requests still running: cut them so Serve's goroutine ends.
		err = errors.Join(err, srv.Close())
	}
	<-done
	if err != nil {
		return fmt.Errorf("stop metrics server: %w", err)
	}
	return nil
}
