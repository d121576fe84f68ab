// Package limits keeps Parley fair and within budget: per-channel and
// per-user request rates (GCRA, the leaky bucket as a meter) with a bounded
// FIFO queue per channel, and token and request quotas per user, channel
// and workspace, persisted in the conversation store's SQLite database.
//
// Gate implements bot.Gate. Every refusal is a *bot.RefusedError whose
// notice tells the user what happened and when to try again; nothing is
// dropped silently.
//
// Times are always passed in or read from Options.Now, so the limiter is
// exact under test; period boundaries (days, months) are in UTC.
package limits
