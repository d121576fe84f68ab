package conversation

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parley-bot/parley/bot"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Policy says what happens to older turns that no longer fit the window.
type Policy string

// Context policies.
const (
	PolicySummarize Policy = "summarize" // fold them into a rolling summary (default)
	PolicyTruncate  Policy = "truncate"  // leave them out of the request
)

// Defaults for zero Options fields.
const (
	DefaultMarginTokens       = 64
	DefaultMaxOutputTokens    = 4096
	DefaultDedupeTTL          = 7 * 24 * time.Hour
	DefaultCacheThreads       = 1024
	DefaultSummaryMaxTokens   = 1024
	DefaultSummaryConcurrency = 2
	DefaultSummaryRetry       = time.Minute
)

// Options configure a Store.
type Options struct {
	// Path is the SQLite file. It is created with mode 0600 (and so are
	// its -wal and -shm files); its directory must exist.
	Path   string
	Policy Policy // PolicySummarize when empty
	// Models are config overrides merged over the built-in model table.
	Models map[string]ModelInfo
	// DefaultModel is used when neither a prompt nor a thread names one;
	// it also picks the encoding user messages are counted in when stored.
	DefaultModel string
	// MaxOutputTokens is reserved for the answer (capped by the model's
	// max output and by half its window). 0: DefaultMaxOutputTokens.
	MaxOutputTokens int
	MarginTokens    int // safety margin; 0: DefaultMarginTokens, negative: none
	// SummaryModel writes summaries under PolicySummarize. When nil, older
	// turns are dropped as with PolicyTruncate (and a warning is logged).
	SummaryModel       bot.Model
	SummaryModelName   string              // "" → the thread's model
	SummaryFilter      func(string) string // applied to every summary (nil: none)
	SummaryMaxTokens   int                 // longest summary; 0: DefaultSummaryMaxTokens
	SummaryConcurrency int                 // summaries written at once; 0: DefaultSummaryConcurrency
	SummaryRetry       time.Duration       // wait after a failed summary; 0: DefaultSummaryRetry
	// DedupeTTL is how long processed events are remembered. 0: DefaultDedupeTTL.
	DedupeTTL time.Duration
	// CacheThreads bounds the in-memory LRU of recently used threads.
	// 0: DefaultCacheThreads.
	CacheThreads int
	// Migrations of other packages, applied after this package's own.
	Migrations []Migration
	Logger     *slog.Logger
}

// Store is Parley's conversation storage. It is safe for concurrent use.
type Store struct {
	opts   Options
	log    *slog.Logger
	write  *sql.DB // one connection: SQLite has a single writer anyway
	read   *sql.DB // a pool for reads, which WAL lets run beside the writer
	codecs codecs

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a summary job ends
	lru       *list.List // of *thread, most recent first
	threads   map[bot.ThreadKey]*thread
	replies   map[int64]replyRef // replies begun by this process
	jobs      map[int64]*summaryJob
	retryAt   map[int64]time.Time  // thread id → no summary attempt before
	sysTokens map[sysKey]int       // tokens of recent system prompts
	modelInfo map[string]ModelInfo // resolved model names
	lastPrune time.Time
	stmts     map[string]*sql.Stmt // hot statements prepared on the writer; read-only after Open
	closed    bool
	dbClosed  bool

	sem    chan struct{} // bounds concurrent summaries
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type replyRef struct {
	key   bot.ThreadKey
	model string
}

type sysKey struct {
	enc  encoding
	text string
}

var _ bot.Conversations = (*Store)(nil)

// Errors callers may test for.
var (
	ErrNotFound   = errors.New("not found")
	ErrNoMessages = errors.New("the thread has no message to answer")
	ErrClosed     = errors.New("conversation store closed")
)

// Open opens (creating if needed) the database at opts.Path and applies
// pending migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("open conversation store: path is empty")
	}
	if strings.ContainsAny(opts.Path, "?#") {
		return nil, fmt.Errorf("open conversation store %s: path must not contain '?' or '#'", opts.Path)
	}
	if opts.Policy == "" {
		opts.Policy = PolicySummarize
	}
	if opts.Policy != PolicySummarize && opts.Policy != PolicyTruncate {
		return nil, fmt.Errorf("open conversation store: unknown context policy %q (want %s or %s)", opts.Policy, PolicySummarize, PolicyTruncate)
	}
	if err := validateModels(opts.Models); err != nil {
		return nil, fmt.Errorf("open conversation store: %w", err)
	}
	if opts.MaxOutputTokens <= 0 {
		opts.MaxOutputTokens = DefaultMaxOutputTokens
	}
	if opts.MarginTokens == 0 {
		opts.MarginTokens = DefaultMarginTokens
	} else if opts.MarginTokens < 0 {
		opts.MarginTokens = 0
	}
	if opts.SummaryMaxTokens <= 0 {
		opts.SummaryMaxTokens = DefaultSummaryMaxTokens
	}
	if opts.SummaryConcurrency <= 0 {
		opts.SummaryConcurrency = DefaultSummaryConcurrency
	}
	if opts.SummaryRetry <= 0 {
		opts.SummaryRetry = DefaultSummaryRetry
	}
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = DefaultDedupeTTL
	}
	if opts.CacheThreads <= 0 {
		opts.CacheThreads = DefaultCacheThreads
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Policy == PolicySummarize && opts.SummaryModel == nil {
		log.Warn("context policy is summarize but no summary model is set; older turns will be dropped")
	}

	// Create the file with 0600 before SQLite does (it would use 0644);
	// SQLite gives the -wal and -shm files the database file's mode.
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open conversation store %s: %w", opts.Path, err)
	}
	_ = f.Close()
	for _, p := range []string{opts.Path, opts.Path + "-wal", opts.Path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open conversation store: restrict %s: %w", p, err)
		}
	}

	common := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	write, err := sql.Open("sqlite", opts.Path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open conversation store %s: %w", opts.Path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open conversation store %s: %w", opts.Path, err)
	}
	read, err := sql.Open("sqlite", opts.Path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open conversation store %s for reading: %w", opts.Path, err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)

	own, err := MigrationsFromFS(componentConversation, migrationFS, "migrations")
	if err == nil {
		err = migrate(ctx, write, append(own, opts.Migrations...))
	}
	if err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("open conversation store %s: %w", opts.Path, err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{
		opts:      opts,
		log:       log,
		write:     write,
		read:      read,
		lru:       list.New(),
		threads:   make(map[bot.ThreadKey]*thread),
		replies:   make(map[int64]replyRef),
		jobs:      make(map[int64]*summaryJob),
		retryAt:   make(map[int64]time.Time),
		sysTokens: make(map[sysKey]int),
		modelInfo: make(map[string]ModelInfo),
		stmts:     make(map[string]*sql.Stmt),
		sem:       make(chan struct{}, opts.SummaryConcurrency),
		ctx:       bg,
		cancel:    cancel,
	}
	s.cond = sync.NewCond(&s.mu)
	if err := s.prepare(ctx); err != nil {
		cancel()
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("open conversation store %s: %w", opts.Path, err)
	}
	return s, nil
}

// DB returns the database handle that writes go through. Other packages
// use it for the tables they add with Options.Migrations; its single
// connection serialises their writes with the store's.
func (s *Store) DB() *sql.DB { return s.write }

// ReadDB returns the pool for read-only queries, which run concurrently
// with writes.
func (s *Store) ReadDB() *sql.DB { return s.read }

// Close stops background summaries, waits for them and closes the
// database. If ctx ends first it returns an error and may be called again.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close conversation store: waiting for summaries: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dbClosed {
		return nil
	}
	s.dbClosed = true
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, s.read.Close(), s.write.Close())...)
}

// prepare prepares the hot statements on the writer connection: parsing
// SQL is a quarter of an insert's cost in SQLite. It runs at Open, because
// preparing later could wait for the single connection a transaction holds.
func (s *Store) prepare(ctx context.Context) error {
	for _, q := range hotQueries() {
		st, err := s.write.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %.40q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

// execStmt runs query, prepared when it is a hot one, in tx when not nil.
func (s *Store) execStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st := s.stmts[query] // written only by Open
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	case st != nil:
		return st.ExecContext(ctx, args...)
	case tx != nil:
		return tx.ExecContext(ctx, query, args...)
	}
	return s.write.ExecContext(ctx, query, args...)
}

// queryRowStmt is execStmt for a statement returning one row.
func (s *Store) queryRowStmt(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st := s.stmts[query]
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	case tx != nil:
		return tx.QueryRowContext(ctx, query, args...)
	}
	return s.write.QueryRowContext(ctx, query, args...)
}

// reservedOutput is the answer's share of the window.
func (s *Store) reservedOutput(info ModelInfo) int {
	return min(s.opts.MaxOutputTokens, info.MaxOutput, info.ContextWindow/2)
}

func nowMilli() int64 { return time.Now().UnixMilli() }
