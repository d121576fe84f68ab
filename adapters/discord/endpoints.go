package discord

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"
)

var apiSuffix = regexp.MustCompile(`^/api(/v[0-9]+)?$`)

// SetAPIURL points discordgo's REST endpoints at apiURL: either an API base
// ("https://proxy.internal/api/v10") or a bare root ("http://127.0.0.1:8080",
// to which "api/v<discordgo.APIVersion>/" is appended).
//
// discordgo keeps its endpoints in package-level variables computed once at
// load, each derived root copied into the next; changing EndpointAPI alone
// leaves the others pointing at discord.com. SetAPIURL recomputes every
// string root the package derives from EndpointDiscord/EndpointAPI (the
// function-valued endpoints read those roots at call time). The change is
// process-wide and must happen before any discordgo session makes a
// request; New calls it when Options.APIURL is set.
func SetAPIURL(apiURL string) error {
	// The URL is not echoed: it may hold credentials for a proxy.
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("discord api_url: not a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("discord api_url: want an http(s) URL with a host, got scheme %q", u.Scheme)
	}
	u.RawQuery, u.Fragment = "", ""
	path := strings.TrimRight(u.Path, "/")
	base := func(p string) string { c := *u; c.Path = p; return c.String() }
	root, api := base(path+"/"), base(path+"/api/v"+discordgo.APIVersion+"/")
	if i := strings.LastIndex(path, "/api"); i >= 0 && apiSuffix.MatchString(path[i:]) {
		root = base(path[:i] + "/")
		if path[i:] == "/api" {
			api = base(path + "/v" + discordgo.APIVersion + "/")
		} else {
			api = base(path + "/")
		}
	}

	discordgo.EndpointDiscord = root
	discordgo.EndpointAPI = api
	discordgo.EndpointGuilds = api + "guilds/"
	discordgo.EndpointChannels = api + "channels/"
	discordgo.EndpointUsers = api + "users/"
	discordgo.EndpointGateway = api + "gateway"
	discordgo.EndpointGatewayBot = discordgo.EndpointGateway + "/bot"
	discordgo.EndpointWebhooks = api + "webhooks/"
	discordgo.EndpointStickers = api + "stickers/"
	discordgo.EndpointStageInstances = api + "stage-instances"
	discordgo.EndpointSKUs = api + "skus"
	discordgo.EndpointVoice = api + "/voice/"
	discordgo.EndpointVoiceRegions = discordgo.EndpointVoice + "regions"
	discordgo.EndpointNitroStickersPacks = api + "/sticker-packs"
	discordgo.EndpointGuildCreate = api + "guilds"
	discordgo.EndpointApplications = api + "applications"
	discordgo.EndpointOAuth2 = api + "oauth2/"
	discordgo.EndpointOAuth2Applications = discordgo.EndpointOAuth2 + "applications"
	discordgo.EndpointOauth2 = discordgo.EndpointOAuth2
	discordgo.EndpointOauth2Applications = discordgo.EndpointOAuth2Applications
	return nil
}
