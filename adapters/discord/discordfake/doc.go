// Package discordfake is a local fake of Discord for tests: an httptest
// server with the REST routes Parley's adapter uses and a gateway websocket
// speaking Discord's real JSON.
//
// REST: GET /gateway, /gateway/bot, /users/@me, /channels/{id},
// /guilds/{id}/roles; POST /channels/{id}/messages, …/messages/{id}/threads,
// …/typing; PATCH /channels/{id}/messages/{id}; PUT application commands
// (global and guild); POST /interactions/{id}/{token}/callback; PATCH
// /webhooks/{app}/{token}/messages/@original. Message edits (and, when
// configured, creations) go through per-channel buckets that answer with
// real X-RateLimit-* headers and 429 bodies; every route but the
// interaction ones counts against a global per-second limit. Rejections
// are counted.
//
// Gateway: HELLO, IDENTIFY → READY, HEARTBEAT → ACK, RESUME → replay of
// missed dispatches then RESUMED, and on demand RECONNECT (op 7),
// INVALID_SESSION (op 9) and a close with a chosen code. IDENTIFY with the
// MESSAGE_CONTENT intent is closed with 4014 when Options.DenyMessageContent
// is set, and a wrong token with 4004, as Discord does.
//
// The server records every message's text history (creation and edits),
// typing calls, registered commands and interaction responses for
// assertions.
package discordfake
