package discord

import (
	"net/url"
	"strconv"

	"github.com/bwmarrin/discordgo"
)

// BotPermissions is what Parley needs in a server: View Channels, Send
// Messages, Send Messages in Threads, Create Public Threads and Read
// Message History (309237713920).
const BotPermissions = discordgo.PermissionViewChannel |
	discordgo.PermissionSendMessages |
	discordgo.PermissionSendMessagesInThreads |
	discordgo.PermissionCreatePublicThreads |
	discordgo.PermissionReadMessageHistory

// InviteURL is the OAuth2 URL that adds the bot to a server with the
// bot and applications.commands scopes and BotPermissions.
func InviteURL(applicationID string) string {
	q := url.Values{}
	q.Set("client_id", applicationID)
	q.Set("scope", "bot applications.commands")
	q.Set("permissions", strconv.FormatInt(BotPermissions, 10))
	return "https://discord.com/oauth2/authorize?" + q.Encode()
}
