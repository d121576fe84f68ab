package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// maxCredentialSize bounds what is read from a credential file; tokens are
// well under 1 KiB.
const maxCredentialSize = 64 << 10

// Load reads and validates the configuration file at path. env looks up
// environment variables (os.Getenv in main); it may be nil. On failure the
// error is an Errors listing every problem, or the error reading the file
// (check with errors.Is(err, fs.ErrNotExist)).
func Load(path string, env func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, env, true)
}

// Parse decodes and validates a configuration document; name is used in
// error messages. Secrets from env and $CREDENTIALS_DIRECTORY override the
// document. Unlike Load it does not check that filters.files exist.
func Parse(name string, data []byte, env func(string) string) (*Config, error) {
	return parse(name, data, env, false)
}

func parse(name string, data []byte, env func(string) string, checkFiles bool) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, Errors{syntaxError(name, err)}
	}
	d := &decoder{
		file:   name,
		lines:  keyLines(data),
		failed: make(map[string]bool),
		source: make(map[string]string),
		raw:    raw,
	}
	cfg := Default()
	d.decode(nil, raw, reflect.ValueOf(cfg).Elem())
	d.applyEnv(cfg, env)
	normalize(cfg)
	d.validate(cfg)
	if checkFiles {
		d.checkFiles(cfg)
	}
	if len(d.errs) > 0 {
		sortErrors(d.errs)
		return nil, d.errs
	}
	return cfg, nil
}

// syntaxError turns go-toml's error into an Error. Only the short message
// is kept: the long form quotes the document, which may hold secrets.
func syntaxError(name string, err error) *Error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return &Error{File: name, Line: line, Err: fmt.Errorf("invalid TOML: %s", msg)}
	}
	return &Error{File: name, Err: fmt.Errorf("invalid TOML: %w", err)}
}

// secretVar ties a secret to its environment variable and its systemd
// credential name.
type secretVar struct {
	path       []string
	env        string
	credential string
	field      func(*Config) *Secret
}

func secretVars() []secretVar {
	return []secretVar{
		{[]string{"llm", "api_key"}, "OPENAI_API_KEY", "openai_api_key", func(c *Config) *Secret { return &c.LLM.APIKey }},
		{[]string{"slack", "bot_token"}, "SLACK_BOT_TOKEN", "slack_bot_token", func(c *Config) *Secret { return &c.Slack.BotToken }},
		{[]string{"slack", "app_token"}, "SLACK_APP_TOKEN", "slack_app_token", func(c *Config) *Secret { return &c.Slack.AppToken }},
		{[]string{"slack", "signing_secret"}, "SLACK_SIGNING_SECRET", "slack_signing_secret", func(c *Config) *Secret { return &c.Slack.SigningSecret }},
		{[]string{"discord", "token"}, "DISCORD_TOKEN", "discord_token", func(c *Config) *Secret { return &c.Discord.Token }},
	}
}

// applyEnv overlays the environment: env beats credential beats file.
func (d *decoder) applyEnv(c *Config, env func(string) string) {
	credDir := env("CREDENTIALS_DIRECTORY")
	for _, v := range secretVars() {
		key := keyString(v.path)
		if s := strings.TrimSpace(env(v.env)); s != "" {
			*v.field(c) = Secret(s)
			d.source[key] = "$" + v.env
			continue
		}
		if credDir == "" {
			continue
		}
		s, ok, err := readCredential(credDir, v.credential)
		switch {
		case err != nil:
			d.source[key] = "credential " + v.credential
			d.bad(v.path, "%v", err)
		case ok:
			*v.field(c) = Secret(s)
			d.source[key] = "credential " + v.credential
		}
	}
	if u := strings.TrimSpace(env("OPENAI_BASE_URL")); u != "" {
		c.LLM.BaseURL = u
		d.source["llm.base_url"] = "$OPENAI_BASE_URL"
	}
	if u := env("USER"); u != "" && !d.defined("console", "user_name") {
		c.Console.UserName = u
	}
}

// normalize forgives what is unambiguous: whitespace pasted around a
// secret, and a missing trailing slash on API URLs (both clients join
// paths onto them).
func normalize(c *Config) {
	for _, v := range secretVars() {
		f := v.field(c)
		*f = Secret(strings.TrimSpace(f.Value()))
	}
	for _, u := range []*string{&c.Slack.APIURL, &c.Discord.APIURL} {
		if *u != "" && !strings.HasSuffix(*u, "/") {
			*u += "/"
		}
	}
}

// readCredential reads a systemd credential; ok is false when there is no
// such file.
func readCredential(dir, name string) (s string, ok bool, err error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read credential: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialSize))
	if err != nil {
		return "", false, fmt.Errorf("read credential %s: %w", path, err)
	}
	s = strings.TrimSpace(string(b))
	if s == "" {
		return "", false, fmt.Errorf("credential file %s is empty", path)
	}
	return s, true, nil
}

// checkFiles reports word-list files that cannot be opened, so that
// `parley check-config` catches them before the daemon starts.
func (d *decoder) checkFiles(c *Config) {
	if !c.Filters.Enabled {
		return
	}
	for _, p := range c.Filters.Files {
		f, err := os.Open(p)
		if err != nil {
			d.errf([]string{"filters", "files"}, "%v", err)
			continue
		}
		f.Close()
	}
}
