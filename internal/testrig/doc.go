// Package testrig assembles a real Parley engine for end-to-end tests of
// the adapters: a temporary SQLite store, the fake OpenAI server driven
// through the real model client, and the stream renderer. Only the remote
// platforms are fakes, and those live with their adapters.
package testrig
