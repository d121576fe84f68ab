package bot

import (
	"fmt"
	"strings"
	"time"
)

// Platform names the chat system a message came from.
type Platform string

// The platforms Parley speaks.
const (
	PlatformConsole Platform = "console"
	PlatformSlack   Platform = "slack"
	PlatformDiscord Platform = "discord"
)

// ThreadKey identifies one conversation. It always includes the workspace
// (Slack team, Discord guild) and the channel, so that no history can ever
// leak across workspaces or channels even if thread IDs collide.
type ThreadKey struct {
	Platform  Platform
	Workspace string // Slack team ID, Discord guild ID ("" for DMs), console: "local"
	Channel   string // channel or DM channel ID
	Thread    string // thread root ID; for a DM without threads, the channel ID
}

// String renders the key as platform/workspace/channel/thread. The parts are
// escaped so that the form is unambiguous and can be parsed back.
func (k ThreadKey) String() string {
	esc := func(s string) string { return strings.NewReplacer("%", "%25", "/", "%2F").Replace(s) }
	return fmt.Sprintf("%s/%s/%s/%s", esc(string(k.Platform)), esc(k.Workspace), esc(k.Channel), esc(k.Thread))
}

// Valid reports whether the key names a platform, a channel and a thread.
func (k ThreadKey) Valid() bool {
	return k.Platform != "" && k.Channel != "" && k.Thread != ""
}

// ChannelKey identifies a channel within a workspace; rate limits and quotas
// are kept per channel.
type ChannelKey struct {
	Platform  Platform
	Workspace string
	Channel   string
}

// Channel returns the channel part of the thread key.
func (k ThreadKey) ChannelKey() ChannelKey {
	return ChannelKey{Platform: k.Platform, Workspace: k.Workspace, Channel: k.Channel}
}

// Message is one user message, translated from a platform event.
type Message struct {
	Platform    Platform
	Workspace   string // Slack team, Discord guild; "" in Discord DMs
	Channel     string
	Thread      string // thread root; equal to ID for a message that starts a thread
	ID          string // the platform's message ID (Slack ts, Discord snowflake)
	EventID     string // delivery ID used for de-duplication; defaults to ID
	AuthorID    string
	AuthorName  string // display name, given to the model
	IsDM        bool
	MentionsBot bool
	Text        string // with the bot mention stripped and other mentions resolved to names
	Time        time.Time
	// QuotaWorkspace, when set, is the workspace whose user and workspace
	// quotas and user rate limit the message counts against instead of
	// Workspace: a Discord DM has no server, so it is charged to the
	// configured one (discord.dm_quota_guild) rather than escape its quotas.
	QuotaWorkspace string
}

// ChargedWorkspace is the workspace whose quotas the message counts against.
func (m Message) ChargedWorkspace() string {
	if m.QuotaWorkspace != "" {
		return m.QuotaWorkspace
	}
	return m.Workspace
}

// Key returns the thread the message belongs to.
func (m Message) Key() ThreadKey {
	thread := m.Thread
	if thread == "" {
		thread = m.ID
	}
	return ThreadKey{Platform: m.Platform, Workspace: m.Workspace, Channel: m.Channel, Thread: thread}
}

// DedupeID is the ID under which the message is recorded as processed.
func (m Message) DedupeID() string {
	if m.EventID != "" {
		return m.EventID
	}
	return m.Channel + "/" + m.ID
}

// Validate reports the first missing field that the engine relies on.
func (m Message) Validate() error {
	switch {
	case m.Platform == "":
		return fmt.Errorf("message %q: platform is empty", m.ID)
	case m.Channel == "":
		return fmt.Errorf("message %q: channel is empty", m.ID)
	case m.ID == "":
		return fmt.Errorf("message in %s/%s: message ID is empty", m.Platform, m.Channel)
	case m.AuthorID == "":
		return fmt.Errorf("message %q: author ID is empty", m.ID)
	}
	return nil
}
