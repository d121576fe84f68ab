// Package llm is Parley's model client: it streams chat completions from an
// OpenAI-compatible server (api.openai.com, Azure-style proxies, OpenRouter,
// vLLM, Ollama, llama.cpp) through github.com/sashabaranov/go-openai and
// implements bot.Model.
//
// go-openai does the request building and SSE line splitting; this package
// closes the gaps it leaves for a long-running daemon:
//
//   - timeouts for response headers, first token, the gap between chunks and
//     the whole call, done with context cancellation rather than
//     http.Client.Timeout, which would kill long healthy streams;
//   - a per-call http.RoundTripper that sees the headers of every response,
//     failed ones included (rate-limit headers, Retry-After), and wraps the
//     body to drop SSE comments (": keep-alive") and record whether
//     "data: [DONE]" arrived, so a cut stream is told apart from a finished
//     one (go-openai returns io.EOF for both);
//   - classification of every failure into *bot.ModelError, with the API key
//     redacted from every message;
//   - only choice 0 of an n>1 stream is shown, refusals are shown as text,
//     and a stream that ends in tool calls (Parley offers no tools) gives a
//     short notice rather than an empty answer.
//
// Token usage comes from the stream's usage chunk (stream_options.include_usage);
// servers that omit it are counted locally with TokenCounter.
//
// Resilient wraps any bot.Model with per-model pacing (RPM/TPM from config
// and the x-ratelimit-* headers), retries before the first token reaches the
// user, fallback models, a per-model circuit breaker and a once-per-outage
// notice when the key's quota is used up.
package llm
