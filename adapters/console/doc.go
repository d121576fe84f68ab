// Package console is the local terminal adapter: `parley chat` and
// `make run`. It speaks to the same engine, store, renderer and model
// client as Slack and Discord, so a conversation here exercises the whole
// path of a message without any platform account.
//
// On a terminal it is interactive (line editing and history, /help,
// /thread NAME, /reset, /quit) and shows replies as they stream. With
// standard input not a terminal it reads one message per line, waits for
// each reply, writes the final replies to standard output and returns after
// the last one.
package console
