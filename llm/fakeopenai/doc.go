// Package fakeopenai is an OpenAI-compatible chat-completions server on
// loopback. It serves two purposes:
//
//   - in tests, a wire-exact stand-in for api.openai.com with fault
//     injection (slow headers, stalls, cut streams, keep-alive comments,
//     malformed chunks, mid-stream error events, HTTP errors with OpenAI's
//     bodies) and replay of real recorded streams;
//   - in production, the "Parley demo model" Parley answers with when no API
//     key or base URL is configured: a deterministic, clearly labelled answer
//     streamed token by token at a realistic pace.
//
// Prompt and completion tokens are counted with tiktoken exactly as the
// OpenAI cookbook does, so the context-window check and the usage chunk
// match what the real API would report.
package fakeopenai
