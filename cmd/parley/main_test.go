package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/llm/fakeopenai"
)

type result struct {
	code           int
	stdout, stderr string
}

func runMain(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	e := Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Main(ctx, args, e)
	return result{code, out.String(), errOut.String()}
}

func writeConfig(t *testing.T, body string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestVersionAndUsage(t *testing.T) {
	if r := runMain(t, "", nil, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "parley ") {
		t.Errorf("version: %+v", r)
	}
	if r := runMain(t, "", nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	if r := runMain(t, "", nil); r.code != 2 || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no command: %+v", r)
	}
}

func TestCheckConfigRedactsSecretsAndNamesBadKeys(t *testing.T) {
	_, path := writeConfig(t, "[llm]\nmodel = \"gpt-4o\"\n")
	secret := "sk-proj-0123456789abcdefSECRET"
	r := runMain(t, "", map[string]string{"OPENAI_API_KEY": secret}, "-config", path, "check-config")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, secret) || !strings.Contains(r.stdout, "REDACTED") {
		t.Errorf("check-config: code %d, secret shown or not redacted:\n%s%s", r.code, r.stdout, r.stderr)
	}

	_, bad := writeConfig(t, "[llm]\nfirst_token_timeout = \"5\"\nmodle = \"x\"\n")
	r = runMain(t, "", nil, "-config", bad, "check-config")
	if r.code != 1 || !strings.Contains(r.stderr, "config.toml:2: llm.first_token_timeout") || !strings.Contains(r.stderr, "config.toml:3: llm.modle: unknown key") {
		t.Errorf("bad config: code %d, stderr %q", r.code, r.stderr)
	}

	// PARLEY_CONFIG names the file when -config is absent.
	r = runMain(t, "", map[string]string{"PARLEY_CONFIG": bad}, "check-config")
	if r.code != 1 || !strings.Contains(r.stderr, "llm.modle") {
		t.Errorf("PARLEY_CONFIG: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestRunConsoleOverAPipeAgainstAModelServer(t *testing.T) {
	srv, err := fakeopenai.Start(fakeopenai.Options{Answer: func(r fakeopenai.Request) string {
		return "echo: " + r.Messages[len(r.Messages)-1].Content
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	dir, path := writeConfig(t, "[storage]\npath = \"DIR/parley.db\"\n[metrics]\nlisten = \"\"\n")
	body, _ := os.ReadFile(path)
	_ = os.WriteFile(path, []byte(strings.ReplaceAll(string(body), "DIR", dir)), 0o600)
	env := map[string]string{"OPENAI_BASE_URL": srv.URL(), "OPENAI_API_KEY": "sk-test-secret-value"}

	r := runMain(t, "hello\nsecond line\n", env, "-config", path, "run")
	if r.code != 0 {
		t.Fatalf("run exited %d: %s", r.code, r.stderr)
	}
	if want := "parley> echo: hello\nparley> echo: second line\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if strings.Contains(r.stderr, "sk-test-secret-value") {
		t.Error("the API key appeared in the logs")
	}
	st, err := os.Stat(filepath.Join(dir, "parley.db"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}

	// The second run sees the first run's history.
	r = runMain(t, "third\n", env, "-config", path, "chat")
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if r.code != 0 || len(last.Messages) != 6 {
		t.Errorf("after restart: code %d, last request has %d messages, want system + 5", r.code, len(last.Messages))
	}
}

func TestRunWithoutKeyUsesTheDemoModel(t *testing.T) {
	dir, path := writeConfig(t, "[storage]\npath = \"DIR/parley.db\"\n[metrics]\nlisten = \"\"\n")
	body, _ := os.ReadFile(path)
	_ = os.WriteFile(path, []byte(strings.ReplaceAll(string(body), "DIR", dir)), 0o600)
	r := runMain(t, "hello demo\n", nil, "-config", path, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "Parley demo model") || !strings.Contains(r.stdout, "hello demo") {
		t.Errorf("demo run: code %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}
