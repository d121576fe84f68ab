package discord

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// directory caches what the adapter must look up over REST because its
// intents bring no GUILD_CREATE: whether a channel is a thread, channel
// names and role names (for resolving mentions into names).
type directory struct {
	s   *discordgo.Session
	ttl time.Duration

	mu       sync.Mutex
	channels map[string]channelInfo
	roles    map[string]guildRoles
}

type channelInfo struct {
	name   string
	thread bool
	at     time.Time
}

type guildRoles struct {
	names map[string]string
	at    time.Time
}

// maxCached bounds each cache; past it the cache starts over.
const maxCached = 20000

func newDirectory(s *discordgo.Session) *directory {
	return &directory{s: s, ttl: time.Hour, channels: make(map[string]channelInfo), roles: make(map[string]guildRoles)}
}

// peek returns a cached channel without a request.
func (d *directory) peek(id string) (channelInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ci, ok := d.channels[id]
	return ci, ok
}

// remember records a channel the adapter learnt about (a thread it opened).
func (d *directory) remember(id string, ci channelInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.channels) >= maxCached {
		d.channels = make(map[string]channelInfo)
	}
	ci.at = time.Now()
	d.channels[id] = ci
}

// channel returns the channel's name and whether it is a thread.
func (d *directory) channel(ctx context.Context, id string) (channelInfo, error) {
	d.mu.Lock()
	ci, ok := d.channels[id]
	d.mu.Unlock()
	// Whether a channel is a thread never changes; only names go stale.
	if ok && time.Since(ci.at) < d.ttl {
		return ci, nil
	}
	ch, err := d.s.Channel(id, discordgo.WithContext(ctx))
	if err != nil {
		if ok {
			return ci, nil
		}
		return channelInfo{}, fmt.Errorf("look up channel %s: %w", id, err)
	}
	ci = channelInfo{name: ch.Name, thread: ch.IsThread()}
	d.remember(id, ci)
	return ci, nil
}

// role returns a role's name in a guild, "" when unknown.
func (d *directory) role(ctx context.Context, guildID, roleID string) string {
	d.mu.Lock()
	gr, ok := d.roles[guildID]
	d.mu.Unlock()
	if !ok || time.Since(gr.at) >= d.ttl {
		roles, err := d.s.GuildRoles(guildID, discordgo.WithContext(ctx))
		if err != nil {
			return gr.names[roleID]
		}
		gr = guildRoles{names: make(map[string]string, len(roles)), at: time.Now()}
		for _, r := range roles {
			gr.names[r.ID] = r.Name
		}
		d.mu.Lock()
		if len(d.roles) >= maxCached {
			d.roles = make(map[string]guildRoles)
		}
		d.roles[guildID] = gr
		d.mu.Unlock()
	}
	return gr.names[roleID]
}
