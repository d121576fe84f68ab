// Package config loads Parley's TOML configuration.
//
// The file is decoded over Default(), so every key is optional. Unknown keys
// are rejected, and every problem is reported at once, each naming the file,
// the line and the dotted key:
//
//	config.toml:14: llm.first_token_timeout: invalid duration "5" (want e.g. "30s")
//	config.toml:3: llm.modle: unknown key (did you mean llm.model?)
//
// Secrets (API keys, bot tokens) may come from the file, from systemd
// credentials ($CREDENTIALS_DIRECTORY/<name>) or from the environment, in
// increasing order of precedence. They are held as Secret values, which
// never print, so a Config can be logged safely; Config.Redacted renders the
// effective configuration for `parley check-config`.
package config
