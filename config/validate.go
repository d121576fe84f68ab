package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// p splits a dotted key of plain segments into a path.
func p(key string) []string { return strings.Split(key, ".") }

// check reports a problem unless the key already failed to decode (its
// value is then the default, and a second message would mislead).
func (d *decoder) check(ok bool, path []string, format string, args ...any) {
	if ok || d.failed[keyString(path)] {
		return
	}
	d.errf(path, format, args...)
}

func (d *decoder) atLeast(key string, v, lo int) {
	d.check(v >= lo, p(key), "must be at least %d, got %d", lo, v)
}

func (d *decoder) between(key string, v, lo, hi int) {
	d.check(v >= lo && v <= hi, p(key), "must be between %d and %d, got %d", lo, hi, v)
}

func (d *decoder) positive(key string, v Duration) {
	d.check(v.Duration > 0, p(key), "must be positive, got %q", v.String())
}

func (d *decoder) oneOf(key, v string, allowed ...string) {
	d.check(slices.Contains(allowed, v), p(key), "invalid value %q (want %s)", v, orList(allowed))
}

func (d *decoder) nonEmpty(key, v string) {
	d.check(strings.TrimSpace(v) != "", p(key), "must not be empty")
}

func orList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// validate checks the decoded configuration as a whole.
func (d *decoder) validate(c *Config) {
	d.validateBot(c)
	d.validateLLM(c)

	d.oneOf("context.policy", string(c.Context.Policy), string(PolicySummarize), string(PolicyTruncate))
	d.atLeast("context.margin_tokens", c.Context.MarginTokens, 0)

	d.nonEmpty("storage.path", c.Storage.Path)
	d.positive("storage.dedupe_ttl", c.Storage.DedupeTTL)

	d.nonEmpty("console.user_name", c.Console.UserName)

	d.oneOf("log.level", c.Log.Level, LevelDebug, LevelInfo, LevelWarn, LevelError)
	d.oneOf("log.format", c.Log.Format, FormatAuto, FormatText, FormatJSON)

	if c.Metrics.Listen != "" {
		d.listenAddr("metrics.listen", c.Metrics.Listen)
	}
	d.positive("metrics.model_ready_window", c.Metrics.ModelReadyWindow)

	d.validateSlack(c)
	d.validateDiscord(c)
	d.validateFilters(c)
	d.validateLimits(c)
}

func (d *decoder) validateBot(c *Config) {
	b := &c.Bot
	d.atLeast("bot.max_concurrent_replies", b.MaxConcurrentReplies, 1)
	d.atLeast("bot.max_pending_per_thread", b.MaxPendingPerThread, 0)
	d.positive("bot.shutdown_timeout", b.ShutdownTimeout)
	d.nonEmpty("bot.placeholder", b.Placeholder)
	d.nonEmpty("bot.bot_name", b.Name)
}

func (d *decoder) validateLLM(c *Config) {
	l := &c.LLM
	if l.BaseURL != "" {
		d.httpURL("llm.base_url", l.BaseURL)
	}
	d.nonEmpty("llm.model", l.Model)
	for _, k := range sortedMapKeys(l.ChannelModels) {
		path := []string{"llm", "channel_models", k}
		d.channelKey(path, k)
		d.check(strings.TrimSpace(l.ChannelModels[k]) != "", path, "model name must not be empty")
	}
	d.atLeast("llm.max_output_tokens", l.MaxOutputTokens, 1)
	d.oneOf("llm.max_tokens_param", string(l.MaxTokensParam), string(MaxTokens), string(MaxCompletionTokens))
	d.positive("llm.header_timeout", l.HeaderTimeout)
	d.positive("llm.first_token_timeout", l.FirstTokenTimeout)
	d.positive("llm.idle_timeout", l.IdleTimeout)
	d.positive("llm.total_timeout", l.TotalTimeout)
	if l.TotalTimeout.Duration > 0 && l.FirstTokenTimeout.Duration > 0 {
		d.check(l.TotalTimeout.Duration >= l.FirstTokenTimeout.Duration, p("llm.total_timeout"),
			"must not be shorter than llm.first_token_timeout (%s)", l.FirstTokenTimeout)
	}
	for i, m := range l.FallbackModels {
		d.check(strings.TrimSpace(m) != "", p("llm.fallback_models"), "item %d: model name must not be empty", i+1)
	}
	d.atLeast("llm.requests_per_minute", l.RequestsPerMinute, 0)
	d.atLeast("llm.tokens_per_minute", l.TokensPerMinute, 0)
	for _, name := range sortedMapKeys(l.Models) {
		m := l.Models[name]
		base := []string{"llm", "models", name}
		sub := func(k string) []string { return append(slices.Clone(base), k) }
		d.check(m.ContextWindow >= 0, sub("context_window"), "must be at least 0, got %d", m.ContextWindow)
		d.check(m.MaxOutput >= 0, sub("max_output"), "must be at least 0, got %d", m.MaxOutput)
		if m.ContextWindow > 0 && m.MaxOutput > 0 {
			d.check(m.MaxOutput < m.ContextWindow, sub("max_output"),
				"must be less than context_window (%d), got %d", m.ContextWindow, m.MaxOutput)
		}
		d.check(slices.Contains([]string{"", "o200k_base", "cl100k_base"}, m.Encoding), sub("encoding"),
			"invalid value %q (want %s)", m.Encoding, orList([]string{"o200k_base", "cl100k_base"}))
	}
}

func (d *decoder) validateSlack(c *Config) {
	s := &c.Slack
	d.oneOf("slack.mode", s.Mode, SlackSocket, SlackHTTP)
	d.oneOf("slack.streaming", s.Streaming, StreamAuto, StreamAPI, StreamEdit)
	d.between("slack.max_message_chars", s.MaxMessageChars, 100, 40000)
	d.httpURL("slack.api_url", s.APIURL)
	d.check(strings.HasPrefix(s.Command, "/") && len(s.Command) > 1 && !strings.ContainsAny(s.Command, " \t"),
		p("slack.command"), "must be a slash command such as \"/parley\"")
	d.ids("slack.admins", s.Admins)
	if s.Mode == SlackHTTP {
		d.listenAddr("slack.listen", s.Listen)
	}
	if !s.Enabled {
		return
	}
	d.token("slack.bot_token", s.BotToken, "xoxb-", "SLACK_BOT_TOKEN", map[string]string{
		"xapp-": "an app-level token; it belongs in slack.app_token",
		"xoxp-": "a user token; Parley needs the bot token",
	})
	switch s.Mode {
	case SlackSocket:
		d.token("slack.app_token", s.AppToken, "xapp-", "SLACK_APP_TOKEN", map[string]string{
			"xoxb-": "a bot token; it belongs in slack.bot_token",
		})
	case SlackHTTP:
		d.check(s.SigningSecret.IsSet(), p("slack.signing_secret"),
			"required for http mode (set SLACK_SIGNING_SECRET or slack.signing_secret)")
	}
}

// token checks that a required token is set and has the right prefix. The
// message names the prefix found only when it is a known, non-secret one.
func (d *decoder) token(key string, t Secret, prefix, envVar string, known map[string]string) {
	if !t.IsSet() {
		d.check(false, p(key), "required when enabled (set %s or %s)", envVar, key)
		return
	}
	if strings.HasPrefix(t.Value(), prefix) {
		return
	}
	for k, what := range known {
		if strings.HasPrefix(t.Value(), k) {
			d.check(false, p(key), "must start with %q; this is %s", prefix, what)
			return
		}
	}
	d.check(false, p(key), "must start with %q", prefix)
}

func (d *decoder) validateDiscord(c *Config) {
	dc := &c.Discord
	d.httpURL("discord.api_url", dc.APIURL)
	d.oneOf("discord.reply_mode", dc.ReplyMode, ReplyThread, ReplyReply)
	d.between("discord.max_message_chars", dc.MaxMessageChars, 100, 2000)
	d.ids("discord.admins", dc.Admins)
	d.snowflakes("discord.guild_ids", dc.GuildIDs)
	if dc.ApplicationID != "" {
		d.check(isDigits(dc.ApplicationID), p("discord.application_id"), "must be a numeric ID")
	}
	if dc.DMQuotaGuild != "" {
		d.check(isDigits(dc.DMQuotaGuild), p("discord.dm_quota_guild"), "must be a numeric server ID")
	}
	d.atLeast("discord.shard_count", dc.ShardCount, 1)
	d.atLeast("discord.shard_id", dc.ShardID, 0)
	if dc.ShardID >= 0 && dc.ShardCount >= 1 {
		d.check(dc.ShardID < dc.ShardCount, p("discord.shard_id"),
			"must be less than discord.shard_count (%d), got %d", dc.ShardCount, dc.ShardID)
	}
	if !dc.Enabled {
		return
	}
	switch tok := dc.Token.Value(); {
	case tok == "":
		d.check(false, p("discord.token"), "required when enabled (set DISCORD_TOKEN or discord.token)")
	case strings.HasPrefix(tok, "Bot ") || strings.HasPrefix(tok, "Bearer "):
		d.check(false, p("discord.token"), "remove the %q prefix; Parley adds it", strings.SplitN(tok, " ", 2)[0]+" ")
	case strings.ContainsAny(tok, " \t\r\n"):
		d.check(false, p("discord.token"), "must not contain spaces")
	}
}

func (d *decoder) validateFilters(c *Config) {
	f := &c.Filters
	d.oneOf("filters.action", f.Action, FilterMask, FilterStop)
	d.words(p("filters.words"), f.Words)
	for i, file := range f.Files {
		d.check(strings.TrimSpace(file) != "", p("filters.files"), "item %d: path must not be empty", i+1)
	}
	for _, k := range sortedMapKeys(f.Channels) {
		base := []string{"filters", "channels", k}
		d.channelKey(base, k)
		d.words(append(slices.Clone(base), "add"), f.Channels[k].Add)
		d.words(append(slices.Clone(base), "remove"), f.Channels[k].Remove)
	}
}

func (d *decoder) words(path []string, words []string) {
	for i, w := range words {
		d.check(strings.TrimSpace(w) != "", path, "item %d: word must not be empty", i+1)
	}
}

func (d *decoder) validateLimits(c *Config) {
	l := &c.Limits
	if !l.Rate.IsZero() {
		d.atLeast("limits.burst", l.Burst, 1)
	}
	if !l.UserRate.IsZero() {
		d.atLeast("limits.user_burst", l.UserBurst, 1)
	}
	d.atLeast("limits.queue_size", l.QueueSize, 0)
	d.check(l.MaxWait.Duration >= 0, p("limits.max_wait"), "must not be negative, got %q", l.MaxWait.String())
	for _, k := range sortedMapKeys(l.Channels) {
		base := []string{"limits", "channels", k}
		d.channelKey(base, k)
		b := l.Channels[k].Burst
		d.check(b >= 0, append(slices.Clone(base), "burst"), "must be at least 0, got %d", b)
	}
	q := &c.Quotas
	d.atLeast("quotas.user_tokens_per_day", q.UserTokensPerDay, 0)
	d.atLeast("quotas.channel_tokens_per_day", q.ChannelTokensPerDay, 0)
	d.atLeast("quotas.workspace_tokens_per_month", q.WorkspaceTokensPerMonth, 0)
	d.atLeast("quotas.user_requests_per_day", q.UserRequestsPerDay, 0)
}

func (d *decoder) channelKey(path []string, k string) {
	if _, err := ParseChannelKey(k); err != nil {
		d.check(false, path, "%v", strings.TrimPrefix(err.Error(), fmt.Sprintf("invalid channel key %q", k)+": "))
	}
}

func (d *decoder) httpURL(key, s string) {
	u, err := url.Parse(s)
	d.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", p(key),
		"invalid URL %q (want e.g. \"https://host/path/\")", RedactURL(s))
}

func (d *decoder) listenAddr(key, s string) {
	_, port, err := net.SplitHostPort(s)
	d.check(err == nil && port != "", p(key), "invalid address %q (want host:port, e.g. \"127.0.0.1:9464\" or \":3000\")", s)
}

func (d *decoder) ids(key string, ids []string) {
	for i, id := range ids {
		d.check(strings.TrimSpace(id) != "" && !strings.ContainsAny(id, " \t<>@"), p(key),
			"item %d: want a user ID such as \"U024BE7LH\", got %q", i+1, id)
	}
}

func (d *decoder) snowflakes(key string, ids []string) {
	for i, id := range ids {
		d.check(isDigits(id), p(key), "item %d: want a numeric ID, got %q", i+1, id)
	}
}

func isDigits(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
