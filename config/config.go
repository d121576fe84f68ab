package config

import (
	"time"

	"github.com/parley-bot/parley/bot"
)

// Config is Parley's whole configuration. Its zero value is not useful;
// start from Default (Load and Parse do).
type Config struct {
	Bot     Bot     `toml:"bot"`
	LLM     LLM     `toml:"llm"`
	Context Context `toml:"context"`
	Storage Storage `toml:"storage"`
	Console Console `toml:"console"`
	Log     Log     `toml:"log"`
	Metrics Metrics `toml:"metrics"`
	Slack   Slack   `toml:"slack"`
	Discord Discord `toml:"discord"`
	Filters Filters `toml:"filters"`
	Limits  Limits  `toml:"limits"`
	Quotas  Quotas  `toml:"quotas"`
}

// Bot is the [bot] section: the engine's behaviour.
type Bot struct {
	SystemPrompt         string   `toml:"system_prompt"`
	MaxConcurrentReplies int      `toml:"max_concurrent_replies"`
	MaxPendingPerThread  int      `toml:"max_pending_per_thread"`
	ShutdownTimeout      Duration `toml:"shutdown_timeout"`
	Placeholder          string   `toml:"placeholder"` // shown until the first token arrives
	Name                 string   `toml:"bot_name"`
}

// MaxTokensParam names the request field that carries the output limit.
type MaxTokensParam string

// Output limit parameters: older models and most compatible servers take
// max_tokens; OpenAI's reasoning models require max_completion_tokens.
const (
	MaxTokens           MaxTokensParam = "max_tokens"
	MaxCompletionTokens MaxTokensParam = "max_completion_tokens"
)

// OpenAIBaseURL is used when an API key is set and llm.base_url is not.
const OpenAIBaseURL = "https://api.openai.com/v1"

// LLM is the [llm] section: the OpenAI-compatible model server.
type LLM struct {
	BaseURL string `toml:"base_url"`
	APIKey  Secret `toml:"api_key"`
	Model   string `toml:"model"`
	// ChannelModels maps "platform/workspace/channel" to the model used there.
	ChannelModels     map[string]string `toml:"channel_models"`
	MaxOutputTokens   int               `toml:"max_output_tokens"`
	MaxTokensParam    MaxTokensParam    `toml:"max_tokens_param"`
	HeaderTimeout     Duration          `toml:"header_timeout"`
	FirstTokenTimeout Duration          `toml:"first_token_timeout"`
	IdleTimeout       Duration          `toml:"idle_timeout"`
	TotalTimeout      Duration          `toml:"total_timeout"`
	FallbackModels    []string          `toml:"fallback_models"`
	RequestsPerMinute int               `toml:"requests_per_minute"` // 0: unknown
	TokensPerMinute   int               `toml:"tokens_per_minute"`   // 0: unknown
	// Models overrides what Parley knows about a model, by model name.
	Models map[string]ModelInfo `toml:"models"`
}

// ModelInfo is an [llm.models.NAME] override; zero fields keep the
// built-in values.
type ModelInfo struct {
	ContextWindow int    `toml:"context_window"`
	MaxOutput     int    `toml:"max_output"`
	Encoding      string `toml:"encoding"` // "o200k_base" or "cl100k_base"
}

// Offline reports whether Parley must use its built-in demo model because
// neither an API key nor a base URL is configured.
func (l *LLM) Offline() bool { return l.BaseURL == "" && !l.APIKey.IsSet() }

// Endpoint is the base URL to call: llm.base_url, else OpenAI's. It is ""
// when Offline.
func (l *LLM) Endpoint() string {
	switch {
	case l.BaseURL != "":
		return l.BaseURL
	case l.APIKey.IsSet():
		return OpenAIBaseURL
	}
	return ""
}

// ModelFor returns the model configured for a channel, or llm.model.
func (l *LLM) ModelFor(ch bot.ChannelKey) string {
	if m, ok := l.ChannelModels[channelKeyString(ch)]; ok {
		return m
	}
	return l.Model
}

// ContextPolicy says what to do with turns that no longer fit the window.
type ContextPolicy string

// Context policies.
const (
	PolicySummarize ContextPolicy = "summarize"
	PolicyTruncate  ContextPolicy = "truncate"
)

// Context is the [context] section: fitting threads to the window.
type Context struct {
	Policy       ContextPolicy `toml:"policy"`
	MarginTokens int           `toml:"margin_tokens"`
	SummaryModel string        `toml:"summary_model"` // "": the thread's model
}

// Storage is the [storage] section.
type Storage struct {
	Path      string   `toml:"path"`
	DedupeTTL Duration `toml:"dedupe_ttl"`
}

// Console is the [console] section: the local chat.
type Console struct {
	UserName string `toml:"user_name"` // default: $USER, else "you"
	Color    bool   `toml:"color"`
}

// Log levels and formats.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"

	FormatAuto = "auto" // text on a terminal, JSON otherwise
	FormatText = "text"
	FormatJSON = "json"
)

// Log is the [log] section.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Metrics is the [metrics] section.
type Metrics struct {
	Listen           string   `toml:"listen"` // "": no metrics endpoint
	ModelReadyWindow Duration `toml:"model_ready_window"`
}

// Slack modes and streaming methods.
const (
	SlackSocket = "socket"
	SlackHTTP   = "http"

	StreamAuto = "auto"
	StreamAPI  = "stream_api"
	StreamEdit = "edit"
)

// Slack is the [slack] section.
type Slack struct {
	Enabled                      bool     `toml:"enabled"`
	Mode                         string   `toml:"mode"`
	BotToken                     Secret   `toml:"bot_token"`
	AppToken                     Secret   `toml:"app_token"`
	SigningSecret                Secret   `toml:"signing_secret"`
	Listen                       string   `toml:"listen"`
	APIURL                       string   `toml:"api_url"`
	Command                      string   `toml:"command"`
	Admins                       []string `toml:"admins"`
	ReplyInThreadsWithoutMention bool     `toml:"reply_in_threads_without_mention"`
	RespondToBots                bool     `toml:"respond_to_bots"`
	Streaming                    string   `toml:"streaming"`
	MaxMessageChars              int      `toml:"max_message_chars"`
}

// Discord reply modes.
const (
	ReplyThread = "thread" // answer in a thread started on the message
	ReplyReply  = "reply"  // answer with replies in the channel
)

// Discord is the [discord] section.
type Discord struct {
	Enabled              bool     `toml:"enabled"`
	Token                Secret   `toml:"token"`
	ApplicationID        string   `toml:"application_id"`
	APIURL               string   `toml:"api_url"`
	GuildIDs             []string `toml:"guild_ids"`
	DMQuotaGuild         string   `toml:"dm_quota_guild"`
	ReplyMode            string   `toml:"reply_mode"`
	Admins               []string `toml:"admins"`
	RespondToBots        bool     `toml:"respond_to_bots"`
	MaxMessageChars      int      `toml:"max_message_chars"`
	MessageContentIntent bool     `toml:"message_content_intent"`
	ShardID              int      `toml:"shard_id"`
	ShardCount           int      `toml:"shard_count"`
}

// Filter actions.
const (
	FilterMask = "mask" // replace matches with ***
	FilterStop = "stop" // end the reply at the match
)

// Filters is the [filters] section: the word filter.
type Filters struct {
	Enabled         bool                     `toml:"enabled"`
	Words           []string                 `toml:"words"`
	Files           []string                 `toml:"files"`
	NormalizeWidth  bool                     `toml:"normalize_width"`
	CaseFold        bool                     `toml:"case_fold"`
	StripInvisible  bool                     `toml:"strip_invisible"`
	StripSeparators bool                     `toml:"strip_separators"`
	Action          string                   `toml:"action"`
	InputNotice     string                   `toml:"input_notice"`
	OutputNotice    string                   `toml:"output_notice"`
	LogText         bool                     `toml:"log_text"`
	Channels        map[string]FilterChannel `toml:"channels"`
}

// FilterChannel adjusts the word list in one channel.
type FilterChannel struct {
	Add    []string `toml:"add"`
	Remove []string `toml:"remove"`
}

// Limits is the [limits] section: request rates and queueing.
type Limits struct {
	Rate      Rate                    `toml:"rate"` // zero: unlimited
	Burst     int                     `toml:"burst"`
	UserRate  Rate                    `toml:"user_rate"` // zero: unlimited
	UserBurst int                     `toml:"user_burst"`
	QueueSize int                     `toml:"queue_size"`
	MaxWait   Duration                `toml:"max_wait"`
	Channels  map[string]ChannelLimit `toml:"channels"`
}

// ChannelLimit overrides the channel rate in one channel; zero fields
// inherit limits.rate and limits.burst.
type ChannelLimit struct {
	Rate  Rate `toml:"rate"`
	Burst int  `toml:"burst"`
}

// Quotas is the [quotas] section; 0 means unlimited.
type Quotas struct {
	UserTokensPerDay        int `toml:"user_tokens_per_day"`
	ChannelTokensPerDay     int `toml:"channel_tokens_per_day"`
	WorkspaceTokensPerMonth int `toml:"workspace_tokens_per_month"`
	UserRequestsPerDay      int `toml:"user_requests_per_day"`
}

// Default returns the configuration used for every key the file omits.
// Each call returns a new value.
func Default() *Config {
	return &Config{
		Bot: Bot{
			SystemPrompt:         "You are Parley, a helpful assistant in a team chat. Answer concisely; use Markdown.",
			MaxConcurrentReplies: 16,
			MaxPendingPerThread:  20,
			ShutdownTimeout:      D(20 * time.Second),
			Placeholder:          "…",
			Name:                 "Parley",
		},
		LLM: LLM{
			Model:             "gpt-4o-mini",
			MaxOutputTokens:   1024,
			MaxTokensParam:    MaxTokens,
			HeaderTimeout:     D(30 * time.Second),
			FirstTokenTimeout: D(60 * time.Second),
			IdleTimeout:       D(30 * time.Second),
			TotalTimeout:      D(5 * time.Minute),
		},
		Context: Context{Policy: PolicySummarize, MarginTokens: 64},
		Storage: Storage{Path: "parley.db", DedupeTTL: D(168 * time.Hour)},
		Console: Console{UserName: "you", Color: true},
		Log:     Log{Level: LevelInfo, Format: FormatAuto},
		Metrics: Metrics{Listen: "127.0.0.1:9464", ModelReadyWindow: D(5 * time.Minute)},
		Slack: Slack{
			Mode:                         SlackSocket,
			Listen:                       ":3000",
			APIURL:                       "https://slack.com/api/",
			Command:                      "/parley",
			ReplyInThreadsWithoutMention: true,
			Streaming:                    StreamAuto,
			MaxMessageChars:              3900,
		},
		Discord: Discord{
			APIURL:               "https://discord.com/api/v10/",
			ReplyMode:            ReplyThread,
			MaxMessageChars:      2000,
			MessageContentIntent: true,
			ShardCount:           1,
		},
		Filters: Filters{
			Enabled:        true,
			NormalizeWidth: true,
			CaseFold:       true,
			StripInvisible: true,
			Action:         FilterMask,
			InputNotice:    "Sorry, I can't respond to that message.",
			OutputNotice:   "⚠ reply stopped by the word filter",
		},
		Limits: Limits{
			Rate:      Rate{Count: 20, Per: time.Minute},
			Burst:     5,
			UserRate:  Rate{Count: 10, Per: time.Minute},
			UserBurst: 3,
			QueueSize: 100,
			MaxWait:   D(30 * time.Second),
		},
	}
}
