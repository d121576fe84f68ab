package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/parley-bot/parley/ops"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	env := Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		Terminal: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())),
	}
	if !env.Terminal {
		env.Stdin = pollableStdin()
	}
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	env.Reload = reload
	env.Ready = func(state string) {
		if err := ops.Notify(state); err != nil {
			fmt.Fprintln(os.Stderr, "parley: sd_notify:", err)
		}
	}
	go func() {
		<-signals
		cancel() // the first signal drains in-flight replies
		<-signals
		fmt.Fprintln(os.Stderr, "parley: second signal, exiting at once")
		os.Exit(130)
	}()
	os.Exit(Main(ctx, os.Args[1:], env))
}

// Env is the process environment Main runs in, replaceable in tests.
type Env struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Getenv   func(string) string
	Terminal bool               // stdin and stdout are a terminal
	Reload   <-chan os.Signal   // SIGHUP; nil in tests that do not reload
	Ready    func(state string) // sd_notify lifecycle hook (ops.StateReady…); nil = none
}

func isTerminal(fd uintptr) bool { return term.IsTerminal(int(fd)) }

// pollableStdin returns standard input in non-blocking mode, so that the
// console's read of a pipe can be interrupted at shutdown (a read
// deadline); a regular file or a terminal is returned as it is.
func pollableStdin() io.Reader {
	fd := int(os.Stdin.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(uintptr(fd), "/dev/stdin")
}
