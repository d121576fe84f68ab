package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/parley-bot/parley/bot"
)

// Workspace and Channel of every console thread.
const (
	Workspace = "local"
	Channel   = "console"
)

// Options configure the console.
type Options struct {
	UserName    string        // the local user's display name
	Interactive bool          // line editing and progressive rendering (stdin is a terminal)
	Color       bool          // ANSI colours when interactive
	In          io.Reader     // default os.Stdin (set by the caller)
	Out         io.Writer     // replies
	Banner      string        // shown at start in interactive mode (e.g. the demo-model label)
	ReplyWait   time.Duration // longest wait for one reply in pipe mode (default 10m)
}

// Adapter is the console platform.
type Adapter struct {
	opts Options

	mu       sync.Mutex
	thread   string
	user     string
	nextID   int
	messages map[string]*shown // bot messages by ID
	order    []string          // message IDs posted since the last turn, in order
	cursor   string            // the message whose text ends at the cursor (interactive)
}

type shown struct {
	text string
}

// New returns a console adapter.
func New(opts Options) *Adapter {
	if opts.UserName == "" {
		opts.UserName = "you"
	}
	if opts.ReplyWait <= 0 {
		opts.ReplyWait = 10 * time.Minute
	}
	return &Adapter{opts: opts, thread: "main", user: opts.UserName, messages: make(map[string]*shown)}
}

var _ bot.Adapter = (*Adapter)(nil)

// Platform returns bot.PlatformConsole.
func (a *Adapter) Platform() bot.Platform { return bot.PlatformConsole }

// Limits: a terminal has no length limit and no rate limit, so every
// token is shown as it arrives.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxMessageChars: 1 << 20}
}

// Key returns the thread key of a console thread name.
func Key(thread string) bot.ThreadKey {
	return bot.ThreadKey{Platform: bot.PlatformConsole, Workspace: Workspace, Channel: Channel, Thread: thread}
}

// Post shows a new bot message.
func (a *Adapter) Post(ctx context.Context, thread bot.ThreadKey, text string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	id := strconv.Itoa(a.nextID)
	a.messages[id] = &shown{text: text}
	a.order = append(a.order, id)
	if a.opts.Interactive {
		a.printf("\n%s %s", a.label(), text)
		a.cursor = id
	}
	return id, nil
}

// Edit replaces a bot message's text. On a terminal the new tail is
// printed when the text grew; otherwise the message is shown again.
func (a *Adapter) Edit(ctx context.Context, thread bot.ThreadKey, id, text string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.messages[id]
	if !ok {
		// A message of an earlier run (crash recovery finishing it): a
		// terminal cannot change past output, so show it again.
		a.printf("%s %s\n", a.label(), text)
		return nil
	}
	old := m.text
	m.text = text
	if !a.opts.Interactive || old == text {
		return nil
	}
	switch {
	case a.cursor == id && strings.HasPrefix(text, old):
		a.printf("%s", text[len(old):])
	case a.cursor == id && !strings.Contains(old, "\n"):
		// The placeholder or a one-line status: redraw the line.
		a.printf("\r\033[K%s %s", a.label(), text)
	default:
		a.printf("\n%s %s", a.label(), text)
		a.cursor = id
	}
	return nil
}

func (a *Adapter) label() string {
	if a.opts.Color {
		return "\033[1;36mparley>\033[0m"
	}
	return "parley>"
}

func (a *Adapter) printf(format string, args ...any) {
	fmt.Fprintf(a.opts.Out, format, args...)
}

// idler is the part of the engine the console waits on between turns.
type idler interface {
	Idle(ctx context.Context) error
}

// Run reads the user's lines until the input ends, /quit, or ctx ends.
func (a *Adapter) Run(ctx context.Context, h bot.Handler) error {
	if a.opts.Interactive {
		return a.runInteractive(ctx, h)
	}
	return a.runPipe(ctx, h)
}

// deadliner is an input that can be unblocked, like an *os.File pipe.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

func (a *Adapter) runPipe(ctx context.Context, h bot.Handler) error {
	// A read from a pipe does not watch ctx: on cancellation, a past
	// deadline unblocks it so Run can return.
	if d, ok := a.opts.In.(deadliner); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Now()) })
		defer stop()
	}
	lines := bufio.NewScanner(a.opts.In)
	lines.Buffer(make([]byte, 64*1024), 4<<20)
	for lines.Scan() {
		if err := ctx.Err(); err != nil {
			return nil
		}
		line := strings.TrimSpace(lines.Text())
		if line == "" {
			continue
		}
		quit, err := a.handleLine(ctx, h, line)
		if err != nil {
			return err
		}
		if quit {
			return nil
		}
	}
	if err := lines.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read console input: %w", err)
	}
	return nil
}

func (a *Adapter) runInteractive(ctx context.Context, h bot.Handler) error {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          a.prompt(),
		Stdin:           io.NopCloser(a.opts.In),
		Stdout:          a.opts.Out,
		InterruptPrompt: "^C",
		EOFPrompt:       "/quit",
		HistoryLimit:    1000,
	})
	if err != nil {
		return fmt.Errorf("start console: %w", err)
	}
	// Readline blocks without a context; closing it on cancellation
	// unblocks the read.
	stop := context.AfterFunc(ctx, func() { rl.Close() })
	defer func() {
		stop()
		rl.Close()
	}()
	if a.opts.Banner != "" {
		fmt.Fprintln(a.opts.Out, a.opts.Banner)
	}
	fmt.Fprintln(a.opts.Out, "Type a message, or /help. Ctrl-D quits.")
	for {
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt), errors.Is(err, io.EOF):
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read console input: %w", err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		quit, err := a.handleLine(ctx, h, line)
		if err != nil {
			return err
		}
		if quit {
			return nil
		}
		rl.SetPrompt(a.prompt())
	}
}

func (a *Adapter) prompt() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := fmt.Sprintf("[%s] %s> ", a.thread, a.user)
	if a.opts.Color {
		return "\033[1;32m" + p + "\033[0m"
	}
	return p
}

const consoleHelp = `Console commands:
  /help          this text
  /thread NAME   switch to (or start) the thread NAME; each thread has its own history
  /reset         forget the current thread
  /as NAME       speak as another (non-admin) user; /as with no name returns to yourself
  /parley ARGS   run a /parley command (e.g. /parley quota show)
  /quit          leave (Ctrl-D works too)`

// handleLine runs a console command or sends a message and waits for its
// reply. It reports whether the user asked to quit.
func (a *Adapter) handleLine(ctx context.Context, h bot.Handler, line string) (bool, error) {
	if strings.HasPrefix(line, "/") {
		return a.command(ctx, h, line)
	}
	a.mu.Lock()
	id := strconv.FormatInt(time.Now().UnixNano(), 10)
	m := bot.Message{
		Platform: bot.PlatformConsole, Workspace: Workspace, Channel: Channel, Thread: a.thread,
		ID: id, AuthorID: a.user, AuthorName: a.user, MentionsBot: true, IsDM: true,
		Text: line, Time: time.Now(),
	}
	a.order = a.order[:0]
	a.mu.Unlock()
	if err := h.HandleMessage(ctx, m); err != nil {
		if errors.Is(err, bot.ErrShuttingDown) {
			return true, nil
		}
		return false, fmt.Errorf("send console message: %w", err)
	}
	a.waitForReply(ctx, h)
	return false, nil
}

func (a *Adapter) waitForReply(ctx context.Context, h bot.Handler) {
	if e, ok := h.(idler); ok {
		wctx, cancel := context.WithTimeout(ctx, a.opts.ReplyWait)
		_ = e.Idle(wctx)
		cancel()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opts.Interactive {
		fmt.Fprintln(a.opts.Out)
		a.cursor = ""
		return
	}
	for _, id := range a.order {
		fmt.Fprintf(a.opts.Out, "parley> %s\n", a.messages[id].text)
		delete(a.messages, id)
	}
	a.order = a.order[:0]
}

func (a *Adapter) command(ctx context.Context, h bot.Handler, line string) (bool, error) {
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	arg = strings.TrimSpace(arg)
	a.mu.Lock()
	thread, user := a.thread, a.user
	a.mu.Unlock()
	say := func(s string) { fmt.Fprintln(a.opts.Out, s) }
	switch strings.ToLower(name) {
	case "quit", "exit":
		return true, nil
	case "help":
		say(consoleHelp)
		say(h.HandleCommand(ctx, a.cmd(thread, user, "help")).Text)
	case "thread":
		if arg == "" || strings.ContainsAny(arg, " \t/") {
			say("usage: /thread NAME (one word)")
			return false, nil
		}
		a.mu.Lock()
		a.thread = arg
		a.mu.Unlock()
		say("now in thread " + arg)
	case "reset":
		say(h.HandleCommand(ctx, a.cmd(thread, user, "reset")).Text)
	case "as":
		a.mu.Lock()
		if arg == "" {
			a.user = a.opts.UserName
		} else {
			a.user = arg
		}
		a.mu.Unlock()
		say("speaking as " + a.userName())
	case "parley":
		say(h.HandleCommand(ctx, a.cmd(thread, user, arg)).Text)
	default:
		say(fmt.Sprintf("unknown command /%s; try /help", name))
	}
	return false, nil
}

func (a *Adapter) userName() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.user
}

// cmd builds a command from the console; the local user is an admin, the
// names given with /as are not.
func (a *Adapter) cmd(thread, user, text string) bot.Command {
	return bot.Command{
		Thread: Key(thread), UserID: user, UserName: user,
		IsAdmin: user == a.opts.UserName, Text: text,
	}
}
