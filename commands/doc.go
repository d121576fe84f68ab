// Package commands is Parley's admin command set — quota, usage, limits,
// audit and help — with one platform-neutral parser and handler used by
// the console, Slack and Discord. It implements bot.CommandHandler over a
// *limits.Gate.
//
// Targets are accepted in every platform's syntax: Slack <@U123>,
// <@U123|name> and <#C123|name>; Discord <@123>, <@!123> and <#123>;
// plain @name and #channel (the console). Admins may see and change
// everything; other users may see only their own quota and usage.
package commands
