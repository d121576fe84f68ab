package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-bot/parley/bot"
)

var update = flag.Bool("update", false, "rewrite the golden .err and .redacted files")

// envMap turns a map into the env lookup Load and Parse take.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func noEnv(string) string { return "" }

func golden(t *testing.T, path string, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file (run go test -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.toml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(filepath.Base(f), data, noEnv)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			golden(t, strings.TrimSuffix(f, ".toml")+".redacted", cfg.Redacted())
		})
	}
}

func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.toml")
	if len(files) < 15 {
		t.Fatalf("want at least 15 bad fixtures, have %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(filepath.Base(f), data, noEnv)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error; config:\n%s", cfg.Redacted())
			}
			if cfg != nil {
				t.Error("Parse returned a config with an error")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T, want a non-empty Errors", err)
			}
			golden(t, strings.TrimSuffix(f, ".toml")+".err", err.Error()+"\n")
		})
	}
}

func TestFullFileSetsEveryKey(t *testing.T) {
	// full.toml must change every field, so that the decoder is shown to
	// reach each one.
	data, err := os.ReadFile("testdata/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("full.toml", data, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(path string, got, def reflect.Value)
	walk = func(path string, got, def reflect.Value) {
		if got.Kind() == reflect.Struct && got.Type() != durationType && got.Type() != rateType {
			for i := range got.NumField() {
				walk(path+"."+got.Type().Field(i).Tag.Get("toml"), got.Field(i), def.Field(i))
			}
			return
		}
		if reflect.DeepEqual(got.Interface(), def.Interface()) {
			t.Errorf("%s: full.toml leaves the default %v", strings.TrimPrefix(path, "."), def.Interface())
		}
	}
	walk("", reflect.ValueOf(*cfg), reflect.ValueOf(*Default()))

	// Spot-check values whose decoding is not a plain copy.
	if got, want := cfg.LLM.FirstTokenTimeout.Duration, 90*time.Second; got != want {
		t.Errorf("first_token_timeout = %v, want %v", got, want)
	}
	if got, want := cfg.LLM.TokensPerMinute, 200000; got != want {
		t.Errorf("tokens_per_minute = %d, want %d", got, want)
	}
	if got, want := cfg.Limits.Rate, (Rate{Count: 30, Per: time.Minute}); got != want {
		t.Errorf("limits.rate = %v, want %v", got, want)
	}
	if !cfg.Limits.UserRate.IsZero() {
		t.Errorf("limits.user_rate = %v, want unlimited", cfg.Limits.UserRate)
	}
	if got := cfg.Limits.Channels["discord/81384788765712384/81384788765712388"].Rate.Every(); got != 500*time.Millisecond {
		t.Errorf("channel rate every = %v, want 500ms", got)
	}
	if got, want := cfg.Bot.SystemPrompt, "You are Ada, the ops team's assistant.\nKeep answers short."; got != want {
		t.Errorf("system_prompt = %q, want %q", got, want)
	}
	if got := cfg.LLM.ModelFor(bot.ChannelKey{Platform: bot.PlatformDiscord, Channel: "81384788765712388"}); got != "gpt-4o-mini" {
		t.Errorf("ModelFor(discord DM) = %q", got)
	}
	if got := cfg.LLM.ModelFor(bot.ChannelKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1"}); got != "llama-3.1-8b" {
		t.Errorf("ModelFor(other channel) = %q", got)
	}
}

func TestRepoConfigIsDefault(t *testing.T) {
	cfg, err := Load("../config.toml", noEnv)
	if err != nil {
		t.Fatalf("config.toml: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("config.toml differs from Default():\n%s", cfg.Redacted())
	}

	// Uncommented, every documented default must still equal Default():
	// the comments cannot drift from the code.
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`(?m)^#([a-z_]+ = .*)$`)
	uncommented := setting.ReplaceAll(data, []byte("$1"))
	if n, want := len(setting.FindAll(data, -1)), len(leafKeys(reflect.TypeFor[Config](), "")); n != want {
		t.Errorf("config.toml documents %d settings; the schema has %d", n, want)
	}
	cfg, err = Parse("config.toml (uncommented)", uncommented, noEnv)
	if err != nil {
		t.Fatalf("uncommented config.toml: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("uncommented config.toml differs from Default():\n%s", cfg.Redacted())
	}

	// And every key of the schema is documented.
	for _, key := range leafKeys(reflect.TypeFor[Config](), "") {
		section, name, _ := strings.Cut(key, ".")
		re := regexp.MustCompile(`(?ms)^\[` + section + `\]\n.*?^#` + regexp.QuoteMeta(name) + ` = `)
		if !re.Match(data) {
			t.Errorf("config.toml does not document %s", key)
		}
	}
}

// leafKeys lists the dotted keys of the schema's scalar settings; map
// sections (llm.models, *.channels) are documented by example instead.
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.TrimPrefix(prefix+"."+f.Tag.Get("toml"), ".")
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != durationType && f.Type != rateType:
			out = append(out, leafKeys(f.Type, key)...)
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
		default:
			out = append(out, key)
		}
	}
	return out
}

const (
	envKey   = "sk-env-0123456789abcdef"
	credKey  = "sk-cred-0123456789abcdef"
	fileKey  = "sk-file-0123456789abcdef"
	botTok   = "xoxb-1111-2222-envtoken"
	appTok   = "xapp-1-A111-222-credtoken"
	signSec  = "8f742231b10e8888abcd99yyyzzz85a5"
	discTok  = "MTIzNDU2Nzg5.GhIjKl.discord-secret-token"
	fileBot  = "xoxb-9999-file-token"
	baseFile = `
[llm]
api_key = "` + fileKey + `"
[slack]
enabled = true
bot_token = "` + fileBot + `"
`
)

func writeCreds(t *testing.T, creds map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, v := range creds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSecretPrecedence(t *testing.T) {
	dir := writeCreds(t, map[string]string{
		"openai_api_key":  credKey,
		"slack_app_token": appTok,
	})
	tests := []struct {
		name    string
		env     map[string]string
		wantKey string
	}{
		{"file only", nil, fileKey},
		{"credential beats file", map[string]string{"CREDENTIALS_DIRECTORY": dir}, credKey},
		{"env beats credential", map[string]string{"CREDENTIALS_DIRECTORY": dir, "OPENAI_API_KEY": envKey}, envKey},
		{"env beats file", map[string]string{"OPENAI_API_KEY": envKey}, envKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SLACK_APP_TOKEN": appTok}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := Parse("c.toml", []byte(baseFile), envMap(env))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.LLM.APIKey.Value(); got != tt.wantKey {
				t.Errorf("api key = %q, want %q", got, tt.wantKey)
			}
			if got := cfg.Slack.BotToken.Value(); got != fileBot {
				t.Errorf("bot token = %q, want the file's", got)
			}
		})
	}
}

func TestAllSecretsFromEnvAndCredentials(t *testing.T) {
	doc := []byte("[slack]\nenabled = true\nmode = \"http\"\n[discord]\nenabled = true\n")
	dir := writeCreds(t, map[string]string{
		"slack_bot_token":      botTok,
		"slack_signing_secret": signSec,
		"discord_token":        discTok,
	})
	cfg, err := Parse("c.toml", doc, envMap(map[string]string{
		"CREDENTIALS_DIRECTORY": dir,
		"OPENAI_API_KEY":        envKey,
		"OPENAI_BASE_URL":       "http://127.0.0.1:11434/v1",
		"SLACK_APP_TOKEN":       appTok,
		"USER":                  "ana",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"llm.api_key":          cfg.LLM.APIKey.Value(),
		"llm.base_url":         cfg.LLM.BaseURL,
		"slack.bot_token":      cfg.Slack.BotToken.Value(),
		"slack.app_token":      cfg.Slack.AppToken.Value(),
		"slack.signing_secret": cfg.Slack.SigningSecret.Value(),
		"discord.token":        cfg.Discord.Token.Value(),
		"console.user_name":    cfg.Console.UserName,
	} {
		want := map[string]string{
			"llm.api_key": envKey, "llm.base_url": "http://127.0.0.1:11434/v1",
			"slack.bot_token": botTok, "slack.app_token": appTok, "slack.signing_secret": signSec,
			"discord.token": discTok, "console.user_name": "ana",
		}[name]
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := cfg.LLM.Endpoint(); got != "http://127.0.0.1:11434/v1" {
		t.Errorf("Endpoint = %q", got)
	}
}

func TestUserNameFromFileBeatsUSER(t *testing.T) {
	cfg, err := Parse("c.toml", []byte("[console]\nuser_name = \"bob\"\n"), envMap(map[string]string{"USER": "ana"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Console.UserName != "bob" {
		t.Errorf("user_name = %q, want bob", cfg.Console.UserName)
	}
}

func TestEnvSecretErrorsNameTheVariable(t *testing.T) {
	_, err := Parse("c.toml", []byte("[slack]\nenabled = true\n"), envMap(map[string]string{
		"SLACK_BOT_TOKEN": "xapp-1-A111-secret-part",
		"SLACK_APP_TOKEN": "not-a-token-secret-part",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	want := `c.toml: slack.app_token: must start with "xapp-" (from $SLACK_APP_TOKEN)` + "\n" +
		`c.toml: slack.bot_token: must start with "xoxb-"; this is an app-level token; it belongs in slack.app_token (from $SLACK_BOT_TOKEN)`
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "secret-part") {
		t.Error("error contains the token")
	}
}

func TestCredentialErrors(t *testing.T) {
	dir := writeCreds(t, map[string]string{"discord_token": "  "})
	if err := os.Mkdir(filepath.Join(dir, "openai_api_key"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Parse("c.toml", nil, envMap(map[string]string{"CREDENTIALS_DIRECTORY": dir}))
	if err == nil {
		t.Fatal("want errors for an empty and an unreadable credential")
	}
	msg := err.Error()
	for _, want := range []string{
		"c.toml: discord.token: credential file " + filepath.Join(dir, "discord_token") + " is empty (from credential discord_token)",
		"c.toml: llm.api_key: read credential " + filepath.Join(dir, "openai_api_key") + ": ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error\n%s\ndoes not contain\n%s", msg, want)
		}
	}
}

func TestOfflineAndEndpoint(t *testing.T) {
	c := Default()
	if !c.LLM.Offline() || c.LLM.Endpoint() != "" {
		t.Errorf("default: Offline=%v Endpoint=%q, want offline demo", c.LLM.Offline(), c.LLM.Endpoint())
	}
	c.LLM.APIKey = "sk-x"
	if c.LLM.Offline() || c.LLM.Endpoint() != OpenAIBaseURL {
		t.Errorf("with key: Offline=%v Endpoint=%q", c.LLM.Offline(), c.LLM.Endpoint())
	}
	c.LLM.APIKey = ""
	c.LLM.BaseURL = "http://127.0.0.1:8080/v1"
	if c.LLM.Offline() || c.LLM.Endpoint() != "http://127.0.0.1:8080/v1" {
		t.Errorf("with base_url: Offline=%v Endpoint=%q", c.LLM.Offline(), c.LLM.Endpoint())
	}
}

func TestRedactedHidesSecretsAndRoundTrips(t *testing.T) {
	dir := writeCreds(t, map[string]string{"slack_signing_secret": signSec})
	env := map[string]string{
		"CREDENTIALS_DIRECTORY": dir,
		"OPENAI_API_KEY":        envKey,
		"SLACK_BOT_TOKEN":       botTok,
		"SLACK_APP_TOKEN":       appTok,
		"DISCORD_TOKEN":         discTok,
	}
	doc := []byte("[slack]\nenabled = true\n[discord]\nenabled = true\n[llm.channel_models]\n\"slack/T1/C1\" = \"gpt-4o\"\n")
	cfg, err := Parse("c.toml", doc, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.Redacted()
	for _, s := range []string{envKey, botTok, appTok, signSec, discTok} {
		if strings.Contains(out, s) {
			t.Errorf("Redacted contains secret %q", s)
		}
	}
	if got := strings.Count(out, `'REDACTED'`); got != 5 {
		t.Errorf("Redacted shows %d REDACTED values, want 5:\n%s", got, out)
	}
	// The redacted form, read with the same environment, is the same config.
	again, err := Parse("redacted.toml", []byte(out), envMap(env))
	if err != nil {
		t.Fatalf("Redacted does not re-parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip differs:\n%s\n---\n%s", again.Redacted(), out)
	}
	// Unset secrets show as "", not REDACTED.
	if d := Default().Redacted(); strings.Contains(d, "REDACTED") {
		t.Errorf("Default().Redacted() shows REDACTED for unset secrets")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const v = "sk-very-secret-value"
	s := Secret(v)
	type wrap struct{ Key Secret }
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s, "wrapped", wrap{s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", s)
	js, err := json.Marshal(wrap{s})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		s.String(), s.GoString(),
		fmt.Sprint(s), fmt.Sprintf("%s %v %q %x %X %#v %+v %d", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", wrap{s}, wrap{s}, wrap{s}),
		fmt.Sprint(&s), string(js), buf.String(),
	}
	for _, o := range outputs {
		if strings.Contains(o, v) || strings.Contains(o, fmt.Sprintf("%x", v)) {
			t.Errorf("secret leaked: %s", o)
		}
		if !strings.Contains(o, "REDACTED") {
			t.Errorf("no REDACTED in %q", o)
		}
	}
	if s.Value() != v {
		t.Errorf("Value() = %q", s.Value())
	}
	if got := fmt.Sprintf("%s|%q", Secret(""), Secret("")); got != `|""` {
		t.Errorf("unset secret prints %q", got)
	}
}

func TestParseRate(t *testing.T) {
	good := map[string]Rate{
		"20/min": {20, time.Minute}, "20/m": {20, time.Minute}, "1/s": {1, time.Second},
		"5/sec": {5, time.Second}, "100/h": {100, time.Hour}, "3/hour": {3, time.Hour},
		"1000/day": {1000, 24 * time.Hour}, " 7 / min ": {7, time.Minute},
	}
	for in, want := range good {
		n, per, err := ParseRate(in)
		if err != nil || n != want.Count || per != want.Per {
			t.Errorf("ParseRate(%q) = %d, %v, %v; want %v", in, n, per, err, want)
		}
		// String is read back by ParseRate.
		n2, per2, err := ParseRate(want.String())
		if err != nil || n2 != n || per2 != per {
			t.Errorf("ParseRate(%q) from String = %d, %v, %v", want.String(), n2, per2, err)
		}
	}
	for _, in := range []string{"", "20", "/min", "0/min", "-1/min", "20/fortnight", "x/min", "20/min/s", "1.5/s", "20/MIN"} {
		if _, _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) succeeded", in)
		} else if !strings.Contains(err.Error(), `want e.g. "20/min"`) {
			t.Errorf("ParseRate(%q) error lacks a hint: %v", in, err)
		}
	}
	if got := (Rate{Count: 20, Per: time.Minute}).Every(); got != 3*time.Second {
		t.Errorf("Every = %v, want 3s", got)
	}
	if got := (Rate{}).Every(); got != 0 {
		t.Errorf("zero Every = %v", got)
	}
}

func TestParseChannelKey(t *testing.T) {
	good := map[string]bot.ChannelKey{
		"slack/T1/C1":           {Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1"},
		"discord//42":           {Platform: bot.PlatformDiscord, Channel: "42"},
		"console/local/main":    {Platform: bot.PlatformConsole, Workspace: "local", Channel: "main"},
		"console/a%2Fb/c%25d":   {Platform: bot.PlatformConsole, Workspace: "a/b", Channel: "c%d"},
		"discord/81384/8138478": {Platform: bot.PlatformDiscord, Workspace: "81384", Channel: "8138478"},
	}
	for in, want := range good {
		got, err := ParseChannelKey(in)
		if err != nil || got != want {
			t.Errorf("ParseChannelKey(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back := channelKeyString(got); back != strings.ReplaceAll(in, "%2f", "%2F") {
			t.Errorf("channelKeyString(%+v) = %q, want %q", got, back, in)
		}
	}
	for _, in := range []string{"", "slack", "slack/T1", "slack/T1/C1/x", "irc/a/b", "slack//C1", "slack/T1/", "/T1/C1"} {
		if _, err := ParseChannelKey(in); err == nil {
			t.Errorf("ParseChannelKey(%q) succeeded", in)
		}
	}
}

func TestDurationText(t *testing.T) {
	for in, want := range map[time.Duration]string{
		30 * time.Second: "30s", 5 * time.Minute: "5m", 168 * time.Hour: "168h",
		90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s", 0: "0s",
		time.Hour + 30*time.Second: "1h0m30s",
	} {
		if got := D(in).String(); got != want {
			t.Errorf("D(%v).String() = %q, want %q", in, got, want)
		}
		var d Duration
		if err := d.UnmarshalText([]byte(want)); err != nil || d.Duration != in {
			t.Errorf("UnmarshalText(%q) = %v, %v", want, d, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("5")); err == nil || err.Error() != `invalid duration "5" (want e.g. "30s")` {
		t.Errorf("UnmarshalText(5) error = %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "config.toml", Line: 14, Key: "llm.first_token_timeout", Err: errors.New(`invalid duration "5" (want e.g. "30s")`)}
	if got, want := e.Error(), `config.toml:14: llm.first_token_timeout: invalid duration "5" (want e.g. "30s")`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Line = 0
	if got, want := e.Error(), `config.toml: llm.first_token_timeout: invalid duration "5" (want e.g. "30s")`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	es := Errors{e, {File: "c.toml", Line: 1, Err: errors.New("x")}}
	var target *Error
	if !errors.As(es, &target) || target != e {
		t.Error("errors.As does not find the first *Error in Errors")
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	dir := t.TempDir()
	words := filepath.Join(dir, "words.txt")
	if err := os.WriteFile(words, []byte("darn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "parley.toml")
	doc := fmt.Sprintf("[filters]\nfiles = [%q, %q]\n", words, filepath.Join(dir, "nope.txt"))
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	want := fmt.Sprintf("%s:2: filters.files: open %s: no such file or directory", path, filepath.Join(dir, "nope.txt"))
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
	// Parse leaves files alone: the daemon's filter reports them when it
	// reads them, and tests need no files.
	if _, err := Parse(path, []byte(doc), nil); err != nil {
		t.Errorf("Parse = %v", err)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Slack.Admins = append(a.Slack.Admins, "U1")
	a.Bot.Name = "changed"
	if b := Default(); len(b.Slack.Admins) != 0 || b.Bot.Name != "Parley" {
		t.Error("Default shares state between calls")
	}
}

func TestNormalize(t *testing.T) {
	doc := "[llm]\napi_key = \"  sk-padded \\n\"\n[slack]\napi_url = \"http://127.0.0.1:1/api\"\n[discord]\napi_url = \"http://127.0.0.1:2/api/v10/\"\n"
	cfg, err := Parse("c.toml", []byte(doc), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LLM.APIKey.Value() != "sk-padded" {
		t.Errorf("api_key = %q, want trimmed", cfg.LLM.APIKey.Value())
	}
	if cfg.Slack.APIURL != "http://127.0.0.1:1/api/" || cfg.Discord.APIURL != "http://127.0.0.1:2/api/v10/" {
		t.Errorf("api urls = %q, %q", cfg.Slack.APIURL, cfg.Discord.APIURL)
	}
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	const tok = "xoxb-1234-SECRETPART"
	docs := []string{
		"[slack]\nenabled = true\nbot_token = \"" + tok + "\nx",
		"[slack]\nbot_token = [\"" + tok + "\"]",
		"slack = \"" + tok + "\"",
		"[slack]\nmax_message_chars = \"" + tok + "\"",
		"[slack]\nenabled = true\napp_token = \"" + tok + "\"\nbot_token = \"" + tok + "\"",
		"[discord]\nenabled = true\ntoken = \"Bot " + tok + "\"",
		"[slack]\n\"" + tok + "\" = 1", // a secret pasted as a key is still named: it is the key
		"[llm]\napi_key = \"" + tok + "\"\napi_key = \"" + tok + "\"",
		"[llm]\napi_key = \"" + tok + "\" \"" + tok + "\"",
	}
	for i, doc := range docs {
		_, err := Parse("c.toml", []byte(doc), noEnv)
		if err == nil {
			t.Errorf("doc %d: no error", i)
			continue
		}
		if i != 6 && strings.Contains(err.Error(), "SECRETPART") {
			t.Errorf("doc %d: error leaks the secret: %v", i, err)
		}
	}
}

// A URL may carry credentials (user:password@ or a key in the query): the
// config's errors and check-config's output do not show them.
func TestURLCredentialsNotShown(t *testing.T) {
	for _, doc := range []string{
		"[llm]\nbase_url = \"ftp://ana:SECRETPART@proxy.internal/v1\"",
		"[llm]\nbase_url = \"http://[bad:SECRETPART@host/v1\"",
		"[slack]\napi_url = \"gopher://proxy/?key=SECRETPART\"",
	} {
		_, err := Parse("c.toml", []byte(doc), noEnv)
		if err == nil || !strings.Contains(err.Error(), "invalid URL") {
			t.Errorf("%q: error %v, want an invalid URL", doc, err)
		} else if strings.Contains(err.Error(), "SECRETPART") {
			t.Errorf("%q: error leaks the credential: %v", doc, err)
		}
	}
	c, err := Parse("c.toml", []byte("[llm]\nbase_url = \"https://ana:SECRETPART@proxy.internal/v1?api-key=SECRETPART\""), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if out := c.Redacted(); strings.Contains(out, "SECRETPART") || !strings.Contains(out, "proxy.internal/v1") {
		t.Errorf("Redacted shows:\n%s", out)
	}
}
