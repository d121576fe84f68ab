package conversation

import (
	"fmt"
	"strings"
)

// Tokenizer encodings supported for counting.
const (
	EncodingO200k  = "o200k_base"
	EncodingCl100k = "cl100k_base"
)

// ModelInfo describes a model's limits and tokenizer.
type ModelInfo struct {
	ContextWindow int    // tokens the model accepts, prompt plus output
	MaxOutput     int    // most tokens the model writes in one answer
	Encoding      string // EncodingO200k or EncodingCl100k
}

// Defaults for models neither the built-in table nor the config knows.
var unknownModel = ModelInfo{ContextWindow: 128000, MaxOutput: 16384, Encoding: EncodingO200k}

// builtinModels returns the published limits of OpenAI's chat models. Keys
// match exactly or as a prefix followed by "-" (dated variants such as
// gpt-4o-2024-08-06); the longest key wins. It is a function, not a package
// variable, so that nothing can mutate it.
func builtinModels() map[string]ModelInfo {
	o := func(window, out int) ModelInfo { return ModelInfo{window, out, EncodingO200k} }
	c := func(window, out int) ModelInfo { return ModelInfo{window, out, EncodingCl100k} }
	return map[string]ModelInfo{
		"gpt-5":             o(400000, 128000),
		"gpt-5-mini":        o(400000, 128000),
		"gpt-5-nano":        o(400000, 128000),
		"gpt-5-chat":        o(128000, 16384),
		"gpt-4.1":           o(1047576, 32768),
		"gpt-4.1-mini":      o(1047576, 32768),
		"gpt-4.1-nano":      o(1047576, 32768),
		"gpt-4o":            o(128000, 16384),
		"gpt-4o-2024-05-13": o(128000, 4096), // the first gpt-4o snapshot had a 4k output cap
		"gpt-4o-mini":       o(128000, 16384),
		"chatgpt-4o":        o(128000, 16384),
		"o1":                o(200000, 100000),
		"o1-mini":           o(128000, 65536),
		"o1-preview":        o(128000, 32768),
		"o3":                o(200000, 100000),
		"o3-mini":           o(200000, 100000),
		"o4-mini":           o(200000, 100000),
		"gpt-4-turbo":       c(128000, 4096),
		"gpt-4-1106":        c(128000, 4096), // gpt-4-1106-preview
		"gpt-4-0125":        c(128000, 4096), // gpt-4-0125-preview
		"gpt-4":             c(8192, 8192),
		"gpt-4-32k":         c(32768, 8192),
		"gpt-3.5-turbo":     c(16385, 4096),
		"gpt-3.5-turbo-16k": c(16385, 4096),
	}
}

// LookupModel returns the limits of a model. overrides (from the config)
// take precedence over the built-in table unless a built-in key matches
// more specifically (an override of gpt-4o leaves gpt-4o-mini alone), and a
// zero field in an override is filled from the built-in entry (or the
// defaults for unknown models: o200k_base, a 128k window, 16k output).
// Fine-tuned names ("ft:gpt-4o-mini:org::id") resolve to their base model.
func LookupModel(name string, overrides map[string]ModelInfo) ModelInfo {
	name = strings.ToLower(strings.TrimSpace(name))
	base := name
	if rest, ok := strings.CutPrefix(base, "ft:"); ok {
		base, _, _ = strings.Cut(rest, ":")
	}
	builtin, builtinLen := matchModel(base, builtinModels())
	info := builtin
	if info.ContextWindow == 0 {
		info = unknownModel
	}
	// Overrides are matched on the full name first, so that a config
	// can describe one fine-tuned model specifically.
	lowered := make(map[string]ModelInfo, len(overrides))
	for k, v := range overrides {
		lowered[strings.ToLower(k)] = v
	}
	ov, n := matchModel(name, lowered)
	if n == 0 && base != name {
		ov, n = matchModel(base, lowered)
	}
	// A more specific built-in entry beats a shorter override: an override
	// of gpt-4o must not change gpt-4o-mini.
	if n > 0 && n >= builtinLen {
		if ov.ContextWindow > 0 {
			info.ContextWindow = ov.ContextWindow
		}
		if ov.MaxOutput > 0 {
			info.MaxOutput = ov.MaxOutput
		}
		if ov.Encoding != "" {
			info.Encoding = ov.Encoding
		}
	}
	if info.MaxOutput > info.ContextWindow {
		info.MaxOutput = info.ContextWindow
	}
	return info
}

// matchModel finds the longest key equal to name or a prefix of it
// followed by "-". It returns the entry and the key length (0: no match).
func matchModel(name string, table map[string]ModelInfo) (ModelInfo, int) {
	var best ModelInfo
	bestLen := 0
	for k, v := range table {
		if len(k) <= bestLen || k == "" {
			continue
		}
		if name == k || (strings.HasPrefix(name, k) && name[len(k)] == '-') {
			best, bestLen = v, len(k)
		}
	}
	return best, bestLen
}

// validateModels checks config overrides before they are used.
func validateModels(models map[string]ModelInfo) error {
	for name, m := range models {
		switch m.Encoding {
		case "", EncodingO200k, EncodingCl100k:
		default:
			return fmt.Errorf("model %q: unsupported encoding %q (want %s or %s)", name, m.Encoding, EncodingO200k, EncodingCl100k)
		}
		if m.ContextWindow < 0 || m.MaxOutput < 0 {
			return fmt.Errorf("model %q: negative token limit", name)
		}
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("model override with an empty name")
		}
	}
	return nil
}

// model resolves a model name once per name: LookupModel scans the tables,
// and it is asked on every prompt and count.
func (s *Store) model(name string) ModelInfo {
	s.mu.Lock()
	info, ok := s.modelInfo[name]
	s.mu.Unlock()
	if ok {
		return info
	}
	info = LookupModel(name, s.opts.Models)
	s.mu.Lock()
	if len(s.modelInfo) >= 256 {
		clear(s.modelInfo) // names from an untrusted source should not grow it
	}
	s.modelInfo[name] = info
	s.mu.Unlock()
	return info
}
