package discord

import (
	"context"
	"errors"
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
	parent string // a thread's parent channel (threads never move)
	// missing records that Discord knows no channel by this ID (404
	// Unknown Channel): the ID is a message's, the root of a reply-mode
	// conversation. It is only trusted by threadChannel; a message
	// arriving in the "channel" proves otherwise (a thread was started
	// from that message since), so channel looks again.
	missing bool
	at      time.Time
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
	d.rememberLocked(id, ci)
}

func (d *directory) rememberLocked(id string, ci channelInfo) {
	if len(d.channels) >= maxCached {
		d.channels = make(map[string]channelInfo)
	}
	ci.at = time.Now()
	d.channels[id] = ci
}

// rememberRoot records that id is the message starting a reply-mode
// conversation, unless it is known as a thread (started from it since).
func (d *directory) rememberRoot(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ci, ok := d.channels[id]; ok && !ci.missing {
		return
	}
	d.rememberLocked(id, channelInfo{missing: true})
}

// channel returns the channel's name, whether it is a thread and, for a
// thread, its parent channel.
func (d *directory) channel(ctx context.Context, id string) (channelInfo, error) {
	d.mu.Lock()
	cached, ok := d.channels[id]
	d.mu.Unlock()
	if ok && cached.missing {
		ok = false
	}
	// Whether a channel is a thread, and its parent, never change; only
	// names go stale.
	if ok && time.Since(cached.at) < d.ttl {
		return cached, nil
	}
	ci, err := d.fetch(ctx, id)
	switch {
	case err == nil:
		return ci, nil
	case ok:
		return cached, nil
	}
	return channelInfo{}, err
}

// fetch asks Discord for a channel and caches the answer, including a 404
// Unknown Channel, for which it returns an info with missing set along
// with the error.
func (d *directory) fetch(ctx context.Context, id string) (channelInfo, error) {
	ch, err := d.s.Channel(id, discordgo.WithContext(ctx))
	var re *discordgo.RESTError
	switch {
	case err == nil:
		ci := channelInfo{name: ch.Name, thread: ch.IsThread()}
		if ci.thread {
			ci.parent = ch.ParentID
		}
		d.remember(id, ci)
		return ci, nil
	case errors.As(err, &re) && re.Message != nil && re.Message.Code == discordgo.ErrCodeUnknownChannel:
		ci := channelInfo{missing: true}
		d.remember(id, ci)
		return ci, fmt.Errorf("look up channel %s: %w", id, err)
	}
	return channelInfo{}, fmt.Errorf("look up channel %s: %w", id, err)
}

// threadChannel reports whether id, the Thread of a guild conversation's
// key that differs from its Channel, names a thread channel (thread true)
// or a message in the key's channel (thread false: a reply-mode
// conversation). known is false when Discord could not be asked.
func (d *directory) threadChannel(ctx context.Context, id string) (thread, known bool) {
	d.mu.Lock()
	ci, ok := d.channels[id]
	d.mu.Unlock()
	if ok && (ci.thread || ci.missing) {
		// Both are permanent, except that a thread may later be started
		// from a reply-mode root; its first message refreshes the entry.
		return ci.thread, true
	}
	if ok {
		return false, true // a channel that is not a thread: no reference either way
	}
	ci, err := d.fetch(ctx, id)
	if err != nil {
		return false, ci.missing
	}
	return ci.thread, true
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
