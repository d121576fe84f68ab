package config

import (
	"bytes"
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// Redacted renders the effective configuration as TOML, every secret shown
// as "REDACTED" (or "" when unset). Parsed again with the same environment,
// it yields the same configuration, except for secrets that came from the
// file itself.
func (c *Config) Redacted() string {
	// Replace the secrets in a copy rather than trusting the encoder to
	// call Secret.MarshalText: go-toml encodes string kinds directly.
	shown := *c
	for _, v := range secretVars() {
		f := v.field(&shown)
		*f = Secret(f.shown())
	}
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
