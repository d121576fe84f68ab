package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-bot/parley/adapters/console"
	"github.com/parley-bot/parley/bot"
	"github.com/parley-bot/parley/conversation"
	"github.com/parley-bot/parley/llm/fakeopenai"
	"github.com/parley-bot/parley/ops"
)

// TestMain lets the tests run the daemon as a real process: the test
// binary re-executed with PARLEY_TEST_MAIN=1 is parley.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_MAIN") == "1" {
		os.Args = append([]string{"parley"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is a parley process under test.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line
	stderr *syncBuffer
	done   chan error
}

func startDaemon(t *testing.T, configPath string, env map[string]string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-config", configPath}, args...)...)
	cmd.Env = []string{"PARLEY_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100), stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.done
	})
	return d
}

func (d *daemon) send(line string) {
	d.t.Helper()
	if _, err := fmt.Fprintln(d.stdin, line); err != nil {
		d.t.Fatalf("write to parley: %v", err)
	}
}

// expectLine waits for a stdout line containing want.
func (d *daemon) expectLine(want string, within time.Duration) string {
	d.t.Helper()
	lines := d.linesUntil(want, within)
	return lines[strings.LastIndex(lines, "\n")+1:]
}

// linesUntil returns the output lines up to and including the first that
// contains want, joined by newlines.
func (d *daemon) linesUntil(want string, within time.Duration) string {
	d.t.Helper()
	var got []string
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("parley's output ended before %q; stderr:\n%s", want, d.stderr.String())
			}
			got = append(got, l)
			if strings.Contains(l, want) {
				return strings.Join(got, "\n")
			}
		case <-deadline:
			d.t.Fatalf("no line with %q within %s; stderr:\n%s", want, within, d.stderr.String())
		}
	}
}

// waitStderr waits until the logs contain want.
func (d *daemon) waitStderr(want string, within time.Duration) {
	d.t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(d.stderr.String(), want) {
			return
		}
	}
	d.t.Fatalf("logs never said %q; stderr:\n%s", want, d.stderr.String())
}

func (d *daemon) wait(within time.Duration) int {
	d.t.Helper()
	select {
	case err := <-d.done:
		d.done <- err // for the cleanup
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			d.t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		d.t.Fatalf("parley did not exit within %s; stderr:\n%s", within, d.stderr.String())
		return -1
	}
}

func slowModel(t *testing.T) *fakeopenai.Server {
	t.Helper()
	srv, err := fakeopenai.Start(fakeopenai.Options{ChunkDelay: 100 * time.Millisecond, Answer: func(fakeopenai.Request) string {
		return strings.Repeat("a slow and steady answer ", 40)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv
}

func processConfig(t *testing.T, extra string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[bot]\nshutdown_timeout = \"1s\"\n[storage]\npath = %q\n[metrics]\nlisten = \"\"\n[log]\nformat = \"json\"\n%s", filepath.Join(dir, "parley.db"), extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func storedReplies(t *testing.T, dir string) []conversation.StoredMessage {
	t.Helper()
	s, err := conversation.Open(context.Background(), conversation.Options{Path: filepath.Join(dir, "parley.db"), DefaultModel: "gpt-4o-mini"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	h, err := s.History(context.Background(), console.Key("main"))
	if err != nil {
		t.Fatal(err)
	}
	var replies []conversation.StoredMessage
	for _, m := range h {
		if m.Role == bot.RoleAssistant {
			replies = append(replies, m)
		}
	}
	return replies
}

func waitForRequest(t *testing.T, srv *fakeopenai.Server, n int) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if len(srv.Requests()) >= n {
			return
		}
	}
	t.Fatalf("the model never got request %d", n)
}

func TestSIGTERMDuringAStreamEndsTheReplyWithANotice(t *testing.T) {
	srv := slowModel(t)
	dir, path := processConfig(t, "")
	d := startDaemon(t, path, map[string]string{"OPENAI_BASE_URL": srv.URL()}, "run")
	d.send("tell me a long story")
	waitForRequest(t, srv, 1)
	// The signal comes once part of the answer is shown: the daemon has
	// stored its progress (every 2 s).
	progress := waitForProgress(t, dir)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The reply printed ends with the notice, on a line of its own.
	shown := d.linesUntil("⚠ reply interrupted: Parley is restarting", 15*time.Second)
	if !strings.Contains(shown, progress) {
		t.Errorf("reply printed as %q, without the text streamed before the signal, %q", shown, progress)
	}
	if code := d.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, d.stderr.String())
	}
	rs := storedReplies(t, dir)
	if len(rs) != 1 || rs[0].Status != bot.StatusPartial || !strings.HasPrefix(rs[0].Text, progress) ||
		!strings.HasSuffix(rs[0].Text, "⚠ reply interrupted: Parley is restarting") {
		t.Fatalf("stored replies %+v, want one partial reply with the text shown (%q…) and the notice", rs, progress)
	}
}

// waitForProgress waits until the streaming reply's progress is stored
// and returns its text, read without opening a Store (the daemon owns it).
func waitForProgress(t *testing.T, dir string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "parley.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		var text string
		err := db.QueryRow(`SELECT text FROM messages WHERE role = 'assistant' AND status = 'streaming' ORDER BY id DESC LIMIT 1`).Scan(&text)
		if err == nil && strings.TrimSpace(text) != "" {
			return strings.TrimSpace(text)
		}
	}
	t.Fatal("no reply progress stored")
	return ""
}

func TestKill9DuringAStreamIsRepairedAtTheNextStart(t *testing.T) {
	srv := slowModel(t)
	dir, path := processConfig(t, "")
	env := map[string]string{"OPENAI_BASE_URL": srv.URL()}
	d := startDaemon(t, path, env, "run")
	d.send("tell me a long story")
	waitForRequest(t, srv, 1)
	time.Sleep(2500 * time.Millisecond) // past the first progress save
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	d.wait(10 * time.Second)
	if rs := storedReplies(t, dir); len(rs) != 1 || rs[0].Status != bot.StatusStreaming {
		t.Fatalf("after kill -9: %+v, want one reply still marked streaming", rs)
	}

	d2 := startDaemon(t, path, env, "run")
	// The message is shown again with the text users saw, then the notice.
	d2.expectLine("parley> a slow and steady answer", 20*time.Second)
	d2.expectLine(ops.InterruptedNotice, 5*time.Second)
	_ = d2.stdin.Close()
	if code := d2.wait(15 * time.Second); code != 0 {
		t.Fatalf("second run exited %d; stderr:\n%s", code, d2.stderr.String())
	}
	rs := storedReplies(t, dir)
	if len(rs) != 1 || rs[0].Status != bot.StatusInterrupted || !strings.HasSuffix(rs[0].Text, ops.InterruptedNotice) {
		t.Fatalf("stored %+v, want the reply interrupted with the notice", rs)
	}
}

func TestSIGHUPReloadsTheFilterAndRefusesABrokenConfig(t *testing.T) {
	srv, err := fakeopenai.Start(fakeopenai.Options{Answer: func(r fakeopenai.Request) string {
		return "ok: " + r.Messages[len(r.Messages)-1].Content
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	_, path := processConfig(t, "[filters]\nwords = [\"alpha\"]\n")
	d := startDaemon(t, path, map[string]string{"OPENAI_BASE_URL": srv.URL()}, "run")

	d.send("say alpha")
	d.expectLine("can't respond", 20*time.Second)
	d.send("say beta")
	d.expectLine("ok: say beta", 20*time.Second)

	_, newer := processConfig(t, "[filters]\nwords = [\"beta\"]\n")
	body, _ := os.ReadFile(newer)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitStderr("config reloaded", 10*time.Second)
	d.send("say beta again")
	d.expectLine("can't respond", 20*time.Second)
	d.send("say alpha again")
	d.expectLine("ok: say alpha again", 20*time.Second)

	if err := os.WriteFile(path, []byte("[llm]\nfirst_token_timeout = \"5\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitStderr("reload refused", 10*time.Second)
	if !strings.Contains(d.stderr.String(), "llm.first_token_timeout") {
		t.Errorf("the refusal does not name the key:\n%s", d.stderr.String())
	}
	d.send("still there?")
	d.expectLine("ok: still there?", 20*time.Second)
	_ = d.stdin.Close()
	if code := d.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestNoSecretInLogsOrErrors(t *testing.T) {
	secrets := map[string]string{
		"OPENAI_API_KEY":       "sk-proj-TESTSECRETopenai0123456789",
		"SLACK_BOT_TOKEN":      "xoxb-1111-2222-TESTSECRETslackbot",
		"SLACK_APP_TOKEN":      "xapp-1-A111-2222-TESTSECRETslackapp",
		"SLACK_SIGNING_SECRET": "TESTSECRETsigning0123456789abcdef",
		"DISCORD_TOKEN":        "MTIzNDU2Nzg5MDEyMzQ1Njc4.TESTSECRET.discordtoken0123456789",
	}
	srv, err := fakeopenai.Start(fakeopenai.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	env := map[string]string{"OPENAI_BASE_URL": srv.URL()}
	for k, v := range secrets {
		env[k] = v
	}
	values := make([]string, 0, len(secrets))
	for _, v := range secrets {
		values = append(values, v)
	}

	// The console path, with every log line on.
	_, path := processConfig(t, "[log]\nlevel = \"debug\"\n")
	path2 := strings.Replace(path, "config.toml", "debug.toml", 1)
	body, _ := os.ReadFile(path)
	_ = os.WriteFile(path2, []byte(strings.Replace(string(body), "[log]\nformat = \"json\"\n[log]\nlevel = \"debug\"\n", "[log]\nformat = \"json\"\nlevel = \"debug\"\n", 1)), 0o600)
	d := startDaemon(t, path2, env, "run")
	d.send("hello")
	d.expectLine("parley>", 20*time.Second)
	_ = d.stdin.Close()
	d.wait(15 * time.Second)
	ops.AssertNoSecrets(t, d.stderr.String(), values...)

	// A Slack connection the server refuses: the process exits non-zero,
	// naming the problem, and prints no token.
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
	}))
	t.Cleanup(slackAPI.Close)
	_, spath := processConfig(t, fmt.Sprintf("[slack]\nenabled = true\napi_url = %q\n", slackAPI.URL+"/"))
	s := startDaemon(t, spath, env, "run")
	code := s.wait(30 * time.Second)
	out := s.stderr.String()
	if code == 0 || !strings.Contains(out, "invalid_auth") {
		t.Errorf("refused Slack token: exit %d, stderr:\n%s", code, out)
	}
	ops.AssertNoSecrets(t, out, values...)

	// A Discord token the API refuses: the same.
	discordAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message": "401: Unauthorized", "code": 0}`)
	}))
	t.Cleanup(discordAPI.Close)
	_, dpath := processConfig(t, fmt.Sprintf("[discord]\nenabled = true\napi_url = %q\n", discordAPI.URL+"/api/v10/"))
	dd := startDaemon(t, dpath, env, "run")
	code = dd.wait(30 * time.Second)
	out = dd.stderr.String()
	if code == 0 || !strings.Contains(strings.ToLower(out), "discord") {
		t.Errorf("refused Discord token: exit %d, stderr:\n%s", code, out)
	}
	ops.AssertNoSecrets(t, out, values...)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsAndHealthAfterAConsoleConversation(t *testing.T) {
	srv, err := fakeopenai.Start(fakeopenai.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	addr := freePort(t)
	_, path := processConfig(t, "")
	body, _ := os.ReadFile(path)
	_ = os.WriteFile(path, []byte(strings.Replace(string(body), "[metrics]\nlisten = \"\"", fmt.Sprintf("[metrics]\nlisten = %q", addr), 1)), 0o600)
	d := startDaemon(t, path, map[string]string{"OPENAI_BASE_URL": srv.URL()}, "run")
	d.waitStderr("metrics and health listening", 20*time.Second)
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz answered %d", code)
	}
	d.send("hello")
	d.expectLine("parley>", 20*time.Second)
	d.send("again")
	d.expectLine("parley>", 20*time.Second)

	_, metrics := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`parley_events_received_total{kind="message",platform="console"} 2`,
		`parley_replies_total{platform="console",status="complete"} 2`,
		`parley_first_token_seconds_count{platform="console"} 2`,
		`parley_model_tokens_total{kind="completion",model=`,
		`parley_edits_total{platform="console"}`,
		"parley_streams_in_flight 0",
		"parley_build_info{",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz answered %d: %s", code, body)
	}
	_ = d.stdin.Close()
	if code := d.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
