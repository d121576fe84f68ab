// Package slack connects Parley to Slack through Socket Mode (the default)
// or the HTTP Events API. It translates app mentions, DMs and thread
// follow-ups into bot.Message values, /parley slash commands into
// bot.Command values, and offers a bot.Outbox (chat.postMessage,
// chat.update) that converts the model's Markdown to Slack mrkdwn and maps
// Slack's rate limits to *bot.RateLimitedError.
//
// Every envelope and request is acknowledged at once and processed on
// goroutines the Adapter owns; de-duplication across retries and restarts
// is the engine's (by Message.DedupeID, which is channel/ts here, so the
// app_mention and message.channels copies of one message collapse), with a
// small in-memory filter in front of it to save work.
//
// Package slackfake is a local fake of Slack's Web API and Socket Mode for
// tests.
package slack
