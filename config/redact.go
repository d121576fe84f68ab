package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Redacted renders the effective configuration as TOML, every secret shown
// as "REDACTED" (or "" when unset), and so are credentials in URLs. Parsed
// again with the same environment, it yields the same configuration,
// except for secrets that came from the file itself.
func (c *Config) Redacted() string {
	// Replace the secrets in a copy rather than trusting the encoder to
	// call Secret.MarshalText: go-toml encodes string kinds directly.
	shown := *c
	for _, v := range secretVars() {
		f := v.field(&shown)
		*f = Secret(f.shown())
	}
	shown.LLM.BaseURL = RedactURL(shown.LLM.BaseURL)
	shown.Slack.APIURL = RedactURL(shown.Slack.APIURL)
	shown.Discord.APIURL = RedactURL(shown.Discord.APIURL)
	var buf bytes.Buffer
	buf.WriteString("# Effective Parley configuration; secrets are redacted.\n\n")
	enc := toml.NewEncoder(&buf).SetIndentTables(false)
	if err := enc.Encode(&shown); err != nil {
		// Every field type is encodable; this only guards against a
		// future field that is not.
		return fmt.Sprintf("# cannot render the configuration: %v\n", err)
	}
	return buf.String()
}

// RedactURL returns u fit for logs and errors: a user and password in it
// and its query (where some gateways take a key) are replaced. A string
// that does not parse is shown only if it holds neither '@' nor '?'.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		if strings.ContainsAny(u, "@?") {
			return "(not shown: it may hold credentials)"
		}
		return u
	}
	if p.User != nil {
		p.User = url.User(redacted)
	}
	if p.RawQuery != "" {
		p.RawQuery = redacted
	}
	return p.String()
}
